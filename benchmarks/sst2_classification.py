"""SST-2 on the bundled all-MiniLM-L6-v2: finetuner's defaults against the usual recipes, in one run.

Fine-tunes on 2,000 SST-2 training sentences and evaluates on the 872 validation sentences:

  (a) the recipe of the project's sources: `padding="max_length"` (512 tokens) and Trainer defaults.
      It trains about 8 real tokens/s on a 2-core CPU, so its throughput is measured on a few dozen
      steps and its 3-epoch wall time projected from them.
  (b) a plain Trainer script with dynamic padding and length-grouped batches, Trainer defaults
      (learning rate 5e-5, batch 8, 3 epochs, seed 42), evaluated each epoch. Like transformers'
      `run_classification.py` it seeds before building the model, so its new head starts the same in
      every run (unseeded, its accuracy moved between 0.819 and 0.822 from run to run).
  (c) `python -m finetuner train` with the project's defaults (through the engine, as a user runs it):
      bf16 autocast where this CPU has bf16 matrix instructions (AMX or AVX-512 BF16), float32 elsewhere (finetuner/precision.py).
  (d) where (c) trained in bf16: the same with `--bf16 false`, float32, to show what the precision buys.

Reported: real (non-padding) trained tokens/s, wall time, validation accuracy (with (c)'s 95% interval,
and (c)'s accuracy minus (b)'s on the same sentences with a paired bootstrap interval), the ratios
between them, and the fraction of this machine's ceiling: 6 x non-embedding parameters FLOPs per trained
token against the fp32 matmul rate measured in the same run.

    python benchmarks/sst2_classification.py            # about 10 minutes on 2 idle cores without bf16 units, 7 with
    python benchmarks/sst2_classification.py --recipe-steps 24 --out benchmarks/results/sst2.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from finetuner.config import RunConfig, default_model_path  # noqa: E402
from finetuner.intervals import paired_gains  # noqa: E402
from finetuner.runs import Run, RunStore  # noqa: E402
from finetuner.train import run_training  # noqa: E402

SST2 = ROOT.parent / "shared" / "data" / "sst2"
LABELS = ["negative", "positive"]


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Best-of fp32 matmul rate on this machine, with torch's default threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best / 1e9


def non_embedding_parameters(model) -> int:
    embeddings = sum(p.numel() for name, p in model.named_parameters() if "embeddings" in name)
    return sum(p.numel() for p in model.parameters()) - embeddings


def load_sst2(train_rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train = pd.read_csv(SST2 / "train.csv").sample(n=train_rows, random_state=seed).reset_index(drop=True)
    validation = pd.read_csv(SST2 / "validation.csv")
    return train, validation


def to_dataset(frame: pd.DataFrame, tokenizer, **tokenize):
    import datasets

    dataset = datasets.Dataset.from_pandas(frame.assign(label=frame["label"].map(LABELS.index)), preserve_index=False)
    return dataset.map(lambda b: tokenizer(b["text"], truncation=True, **tokenize), batched=True, remove_columns=["text"])


def accuracy(prediction) -> dict[str, float]:
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step, and real tokens seen, after `warmup` steps."""

    def __init__(self, warmup: int = 2):
        self.warmup, self.start, self.tokens0 = warmup, None, 0
        self.steps, self.seconds, self.tokens = 0, 0.0, 0

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self.start, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen
        elif self.start is not None:
            self.steps = state.global_step - self.warmup
            self.seconds = time.perf_counter() - self.start
            self.tokens = state.num_input_tokens_seen - self.tokens0


def recipe_a(train: pd.DataFrame, steps: int, workdir: Path) -> dict:
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    dataset = to_dataset(train, tokenizer, padding="max_length", max_length=tokenizer.model_max_length)
    model = AutoModelForSequenceClassification.from_pretrained(default_model_path(), num_labels=2)
    timer = StepTimer()
    args = TrainingArguments(output_dir=str(workdir / "a"), max_steps=steps + timer.warmup, report_to="none", save_strategy="no", include_num_input_tokens_seen="non_padding", disable_tqdm=True)
    Trainer(model=model, args=args, train_dataset=dataset, callbacks=[timer]).train()
    seconds_per_step = timer.seconds / timer.steps
    full_steps = 3 * int(np.ceil(len(train) / args.per_device_train_batch_size))
    return {
        "tokens_per_second": timer.tokens / timer.seconds,
        "seconds_per_step": seconds_per_step,
        "measured_steps": timer.steps,
        "wall_seconds_projected": seconds_per_step * full_steps,
        "accuracy": None,
    }


def plain_b(train: pd.DataFrame, validation: pd.DataFrame, workdir: Path, seed: int = 42) -> dict:
    """`seed` also seeds the new classifier head: set before the model is built, as `run_classification.py`
    does (the Trainer seeds only once the model exists)."""
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    train_set, validation_set = to_dataset(train, tokenizer), to_dataset(validation, tokenizer)
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(default_model_path(), num_labels=2)
    args = TrainingArguments(
        output_dir=str(workdir / "b"), eval_strategy="epoch", save_strategy="no", report_to="none", seed=seed,
        train_sampling_strategy="group_by_length", include_num_input_tokens_seen="non_padding", disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train_set, eval_dataset=validation_set, data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=accuracy)
    start = time.perf_counter()
    output = trainer.train()
    wall = time.perf_counter() - start
    evals = [log["eval_accuracy"] for log in trainer.state.log_history if "eval_accuracy" in log]
    trainer.args.train_sampling_strategy = "sequential"  # transformers 5 groups evaluation batches by length too: predict in row order
    final = trainer.predict(validation_set)  # after the timing: which sentences it got right, to pair with (c)
    correct = (final.predictions.argmax(-1) == final.label_ids).tolist()
    return {"tokens_per_second": trainer.state.num_input_tokens_seen / output.metrics["train_runtime"], "wall_seconds": wall, "accuracy": evals[-1], "accuracy_per_epoch": evals, "correct": correct}


def train_through_engine(config: RunConfig, workdir: Path) -> tuple[Run, float]:
    """A completed run of `config` in `workdir/runs`, trained as `python -m finetuner train` does, and its
    wall time; stops the benchmark with the run's error when it fails."""
    run = RunStore(workdir / "runs").create(config)
    start = time.perf_counter()
    state = run_training(run)
    wall = time.perf_counter() - start
    if state != "completed":
        raise SystemExit(f"finetuner run {state}: {run.status().get('error')}")
    return run, wall


def finetuner_c(train: pd.DataFrame, validation: pd.DataFrame, workdir: Path, target_accuracy: float | None = None, **options) -> dict:
    """The engine with the project's defaults (`options` override them); `target_accuracy`: also time when
    an evaluation first reached it."""
    train.to_csv(workdir / "train.csv", index=False)
    validation.to_csv(workdir / "validation.csv", index=False)
    config = RunConfig.from_dict({"train_file": str(workdir / "train.csv"), "validation_file": str(workdir / "validation.csv"), "test_split_ratio": 0, **options})
    run, wall = train_through_engine(config, workdir)
    events = run.events()
    begin_event = next(e for e in events if e["type"] == "train_begin")
    begin = begin_event["time"]
    evals = [e for e in events if e["type"] == "eval"]
    checkpoints = [e for e in events if e["type"] == "checkpoint"]
    logs = [e for e in events if e["type"] == "log" and e.get("tokens_per_second")]
    reached = next((e["time"] - begin for e in evals if target_accuracy is not None and e["metrics"]["eval_accuracy"] >= target_accuracy), None)
    return {
        "tokens_per_second": logs[-1]["tokens_per_second"],
        "wall_seconds": wall,
        "train_seconds": evals[-1]["time"] - begin,
        "accuracy": run.metrics("validation")["eval_accuracy"],
        "accuracy_95_interval": json.loads((run.eval_dir / "report_validation.json").read_text(encoding="utf-8"))["intervals"]["accuracy"],
        "accuracy_per_epoch": [e["metrics"]["eval_accuracy"] for e in evals],
        "evaluation_seconds": [e["metrics"]["eval_runtime"] for e in evals],
        "checkpoint_seconds": [c["time"] - e["time"] for e, c in zip(evals, checkpoints)],  # each checkpoint is saved right after its evaluation
        "seconds_to_reach_b_accuracy": reached,
        "correct": pd.read_csv(run.eval_dir / "predictions_validation.csv")["correct"].astype(bool).tolist(),
        "precision": begin_event.get("precision"),
        "config": {k: v for k, v in config.to_dict().items() if k in ("learning_rate", "per_device_train_batch_size", "num_train_epochs", "warmup_steps", "max_seq_length", "train_sampling_strategy", "freeze_embeddings", "extra_training_args")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--recipe-steps", type=int, default=24, help="Optimizer steps timed for recipe (a).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sst2.json"))
    args = parser.parse_args()
    if not SST2.is_dir():
        raise SystemExit(f"{SST2} is missing: this benchmark reads SST-2 from ../shared/data.")

    train, validation = load_sst2(args.train_rows, args.seed)
    gflops = matmul_gflops()
    model = AutoModelForSequenceClassification.from_pretrained(default_model_path(), num_labels=2)
    n_params = non_embedding_parameters(model)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        b = plain_b(train, validation, workdir)
        c = finetuner_c(train, validation, workdir, b["accuracy"])
        d = finetuner_c(train, validation, workdir, b["accuracy"], bf16=False) if c["precision"] == "bf16" else None
        a = recipe_a(train, args.recipe_steps, workdir)
    gflops_after = matmul_gflops()
    (c_against_b,) = paired_gains(np.column_stack([c.pop("correct"), b.pop("correct")]))
    if d:
        d.pop("correct")
    ceiling = max(gflops, gflops_after)
    result = {
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "fp32_matmul_gflops": ceiling, "fp32_matmul_gflops_start_end": [gflops, gflops_after], "load_average_at_end": os.getloadavg()},
        "data": {"train_rows": len(train), "validation_rows": len(validation)},
        "non_embedding_parameters": n_params,
        "a_recipe_max_length_padding": a,
        "b_trainer_dynamic_padding": b,
        "c_finetuner_defaults": c,
        "d_finetuner_defaults_float32": d,
        "ratios": {
            "c_tokens_per_second_over_a": c["tokens_per_second"] / a["tokens_per_second"],
            "c_tokens_per_second_over_b": c["tokens_per_second"] / b["tokens_per_second"],
            "c_time_to_b_accuracy_over_b_wall": (c["seconds_to_reach_b_accuracy"] / b["wall_seconds"]) if c["seconds_to_reach_b_accuracy"] else None,
            "c_wall_over_b_wall": c["wall_seconds"] / b["wall_seconds"],
            "d_tokens_per_second_over_a": d["tokens_per_second"] / a["tokens_per_second"] if d else None,
            "d_time_to_b_accuracy_over_b_wall": (d["seconds_to_reach_b_accuracy"] / b["wall_seconds"]) if d and d["seconds_to_reach_b_accuracy"] else None,
        },
        "c_accuracy_minus_b_on_the_same_sentences": {
            "difference": c_against_b["model_accuracy_gain"], "low_95": c_against_b["model_accuracy_gain_low"], "high_95": c_against_b["model_accuracy_gain_high"],
        },
        "ceiling_fraction": {
            name: 6 * n_params * run["tokens_per_second"] / (ceiling * 1e9) for name, run in (("a", a), ("b", b), ("c", c), ("d", d)) if run
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
