"""How long a user waits on the studio with full-size real data: each Data-tab load, the tokenization
inspector, a re-split after a new seed on the Train tab, Estimate, and the Evaluate tab of a 77-class run.

The studio runs in this process and is driven through its Gradio API with `gradio_client`, as a browser's
events reach it (the re-split, a private event of the page, is called as the page's handler). Each step is
timed as wall seconds from the call to its answer, `--repeats` times (cached steps are timed on their first
call only: a repeat would time the cache). Data from `../shared/data` (absent: the script says so and stops).

    python benchmarks/studio_latency.py [--repeats 3] [--label after] [--out benchmarks/results/studio_latency.json]

Runs add their times to the results file under their label, so runs of two versions of the code can be
interleaved on a busy machine (copy this script into the other version's checkout and give it the same --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

def forget_loaded_data() -> None:
    """What the studio keeps of data it loaded, prepared and measured, forgotten: the next load is timed as a first."""
    from finetuner.ui import services

    services._raw.cache_clear(), services._prepared.cache_clear(), services.forget_token_stats()
    getattr(services, "_length_memos", {}).clear()  # the texts' measured token counts (none before they were kept)


# (name, task, training file, other splits' files, the inspector's row)
DATASETS = [
    ("sst2", "text-classification", "sst2/train.csv", {}, 3),
    ("banking77", "text-classification", "banking77/train.csv", {"test_file": "banking77/test.csv"}, 3),
    ("wnut17", "token-classification", "wnut17/train.jsonl", {"validation_file": "wnut17/validation.jsonl", "test_file": "wnut17/test.jsonl"}, 3),
    ("scitldr", "seq2seq", "scitldr/train.jsonl", {"validation_file": "scitldr/validation.jsonl", "test_file": "scitldr/test.jsonl"}, 3),
    ("gsm8k", "causal-lm", "gsm8k/train.jsonl", {"test_file": "gsm8k/test.jsonl"}, 3),
]


def timed(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def endpoint(demo, api_name: str):
    """The handler of one of the page's events, by its API name (private ones included)."""
    return next(fn.fn for fn in demo.fns.values() if fn.api_name == api_name)


def dataset_steps(client, demo, name, task, train, others, row, model) -> dict[str, float]:
    from gradio_client import handle_file

    files = {"validation_file": None, "test_file": None, **{key: handle_file(str(DATA / path)) for key, path in others.items()}}
    steps = {}
    steps["load"], _ = timed(lambda: client.predict(task=task, source="Upload files", train_file=handle_file(str(DATA / train)), **files, api_name="/load_dataset"))
    from finetuner.ui import services

    # The selection the page keeps after that load (an API client is not sent it): the same load in this process, from its caches.
    paths = [str(DATA / p) if p else None for p in (train, others.get("validation_file"), others.get("test_file"))]
    pickers = [services.AUTO] * 7
    selection = endpoint(demo, "load_dataset")(task, services.SOURCE_FILE, *paths, "", "", "train", services.AUTO, services.NO_PAIR, services.AUTO, *pickers, None, None, {"started": 0, "ended": 0})[0]
    inspect = dict(model_name_or_path=model, max_length=128, split="train", text="", api_name="/inspect_tokens")
    steps["inspect_first"], _ = timed(lambda: client.predict(index=row, **inspect))  # token statistics of every split, then cached
    steps["inspect_row"], _ = timed(lambda: client.predict(index=row + 1, **inspect))
    form = {"seed": 7, "model_name_or_path": model, "max_seq_length": 128, "task": task}
    resplit, again = endpoint(demo, "follow_train_split"), endpoint(demo, "inspect_again")
    options = {"seed": 42, "validation_split_ratio": 0.1, "test_split_ratio": 0.1, "max_train_samples": None}

    def new_seed():
        loads = {"started": 1, "ended": 1}
        resplit(selection, form, options, loads)  # the Data tab's summary, checks and charts for the new seed
        key = {"data": selection, **options, "model": model, "max_length": 128, "completion_only_loss": None}
        return again(model, 128, "train", row, "", selection, "", form, key, "")  # the inspection on the page, made again

    steps["resplit_new_seed"], _ = timed(new_seed)
    estimate = dict(model_name_or_path=model, task=task, max_seq_length=128, seed=7, api_name="/estimate_training")
    steps["estimate"], _ = timed(lambda: client.predict(**estimate))
    return steps


def evaluation_run(runs_dir: Path, folder: Path):
    """A tiny model trained one short epoch on BANKING77's 77 intents, evaluated on its 3,080-row test file."""
    import pandas as pd

    from finetuner.config import RunConfig
    from finetuner.runs import COMPLETED, RunStore
    from finetuner.train import run_training
    from support import build_tiny_model

    texts = pd.read_csv(DATA / "banking77/train.csv")["text"].tolist()
    model = build_tiny_model(folder / "bert", texts[:2000])
    config = RunConfig.from_dict({
        "model_name_or_path": str(model), "train_file": str(DATA / "banking77/train.csv"), "test_file": str(DATA / "banking77/test.csv"),
        "max_seq_length": 32, "num_train_epochs": 1, "max_train_samples": 2000, "per_device_train_batch_size": 64, "learning_rate": 1e-3,
        "bf16": False,
    })
    run = RunStore(runs_dir).create(config)
    assert run_training(run) == COMPLETED, run.status()
    return run


def task_models(folder: Path) -> dict[str, str]:
    """The model of each task: the bundled encoder for classification and NER, and for the generative tasks,
    whose default models are on the Hub (offline here), tiny ones built with tokenizers trained on the data."""
    from finetuner.config import RunConfig
    from task_fixtures import CHATML, build_tiny_causal_lm, build_tiny_t5

    bundled = RunConfig().to_dict()["model_name_or_path"]
    documents = [json.loads(line)["document"] for line in (DATA / "scitldr/train.jsonl").read_text().split("\n")[:300]]
    answers = [json.loads(line)["output"] for line in (DATA / "gsm8k/train.jsonl").read_text().split("\n")[:300]]
    return {
        "text-classification": bundled, "token-classification": bundled,
        "seq2seq": str(build_tiny_t5(folder / "t5", documents)), "causal-lm": str(build_tiny_causal_lm(folder / "llama", answers, chat_template=CHATML)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/studio_latency.json"))
    parser.add_argument("--label", default="latest", help="the name this run's times are kept under (e.g. the commit timed)")
    parser.add_argument("--only", nargs="*", help="dataset names to time (default: all, and the evaluation)")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"No real data at {DATA}: the benchmark needs ../shared/data.")
    from gradio_client import Client

    from finetuner.ui.studio import build_studio
    from support import free_port

    work = Path(tempfile.mkdtemp(prefix="studio-latency-"))
    models = task_models(work)
    runs_dir = work / "runs"
    demo = build_studio(runs_dir)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        client = Client(demo.local_url, verbose=False)
        opened, _ = timed(lambda: client.predict(train_file=None, validation_file=None, test_file=None, api_name="/load_dataset"))  # imports, as a page opening
        print(f"example loaded (imports) in {opened:.2f} s", flush=True)
        chosen = [d for d in DATASETS if not args.only or d[0] in args.only]
        for repeat in range(args.repeats):
            for name, task, train, others, row in chosen:
                forget_loaded_data()  # each repeat as a first load
                steps = dataset_steps(Client(demo.local_url, verbose=False), demo, name, task, train, others, row, models[task])
                for step, seconds in steps.items():
                    results.setdefault(name, {}).setdefault(step, []).append(round(seconds, 3))
                print(repeat, name, {k: round(v, 2) for k, v in steps.items()}, flush=True)
        if not args.only or "evaluation" in args.only:
            run = evaluation_run(runs_dir, work)
            for repeat in range(args.repeats):
                seconds, _ = timed(lambda: client.predict(run.id, "test", api_name="/evaluation_report"))
                results.setdefault("banking77_evaluation", {}).setdefault("evaluation_report", []).append(round(seconds, 3))
                print(repeat, "evaluation_report", round(seconds, 2), flush=True)
    finally:
        demo.close()
    save(Path(args.out), args.label, results)


def save(path: Path, label: str, results: dict[str, dict[str, list[float]]]) -> None:
    """Add this run's times under `label` to the results file (runs of other code, interleaved with this one,
    stay beside them), with each step's median over all the label's runs."""
    saved = json.loads(path.read_text()) if path.exists() else {}
    times = saved.setdefault("seconds", {}).setdefault(label, {})
    for name, steps in results.items():
        for step, runs in steps.items():
            times.setdefault(name, {}).setdefault(step, []).extend(runs)
    saved["medians"] = {
        lab: {name: {step: statistics.median(runs) for step, runs in steps.items()} for name, steps in by_name.items()} for lab, by_name in saved["seconds"].items()
    }
    saved.setdefault("runs", []).append({
        "label": label, "ended": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
    })
    saved["models"] = "the bundled all-MiniLM-L6-v2 (classification, NER); tiny T5 and LLaMA with ChatML built here (seq2seq, causal LM)"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=1) + "\n")
    print(json.dumps(saved["medians"][label], indent=1))

if __name__ == "__main__":
    main()
