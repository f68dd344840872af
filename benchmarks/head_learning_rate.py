"""What a new head's own learning rate buys, on the bundled all-MiniLM-L6-v2 and real data with many labels.

A classification head starts from small random weights; at the encoder's learning rate a head for many
labels grows too slowly to be of use within 3 epochs. This trains finetuner's defaults twice on the same
data, through the engine as a user runs it:

  head at the learning rate:  `--head_learning_rate` equal to the task's learning rate, the only rate
                              before head_learning_rate existed;
  defaults:                   the head at the task's default head_learning_rate (5e-3).

  --dataset banking77  text classification, 77 intents: 3,000 sentences sampled (seeded) from the
                       training file, 1,000 others from it as validation (used during training and to
                       pick the best checkpoint), the full 3,080-sentence test file seen once at the end;
                       the run's own TF-IDF + logistic regression baseline beside them.
  --dataset wnut17     NER, 6 entity types (13 BIO tags): its own train, validation and test splits.

Reported: the validation score per epoch (accuracy; NER: entity F1), test scores, wall time. With
`--seeds`, both variants are trained once per seed (the seed sets the new head's initialisation, dropout
and the order of the batches; BANKING77's rows stay the same) and the results are given by seed.

    python benchmarks/head_learning_rate.py --dataset banking77   # about 7 minutes on 2 cores
    python benchmarks/head_learning_rate.py --dataset wnut17      # about 12 minutes
    python benchmarks/head_learning_rate.py --dataset wnut17 --seeds 1 2 --out benchmarks/results/wnut17_seeds.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402

from sst2_classification import train_through_engine  # noqa: E402

from finetuner.config import RunConfig  # noqa: E402
from finetuner.tasks import TASKS  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TASK = {"banking77": "text-classification", "wnut17": "token-classification"}
SCORES = {"text-classification": ("accuracy", "f1_macro"), "token-classification": ("f1", "precision", "recall")}


def banking77_files(workdir: Path, train_rows: int, validation_rows: int) -> dict[str, str]:
    shuffled = pd.read_csv(DATA / "banking77" / "train.csv").sample(frac=1, random_state=0)
    shuffled.iloc[:train_rows].to_csv(workdir / "train.csv", index=False)
    shuffled.iloc[train_rows : train_rows + validation_rows].to_csv(workdir / "validation.csv", index=False)
    pd.read_csv(DATA / "banking77" / "test.csv").to_csv(workdir / "test.csv", index=False)
    return {role: str(workdir / f"{role}.csv") for role in ("train", "validation", "test")}


def train_once(files: dict[str, str], workdir: Path, task: str, options: dict) -> dict:
    config = RunConfig.from_dict({"task": task, **{f"{role}_file": path for role, path in files.items()}, **options})
    run, wall = train_through_engine(config, workdir)
    first, *_ = SCORES[task]
    test = run.metrics("test")
    result = {
        "head_learning_rate": run.config().training.head_learning_rate,
        "learning_rate": run.config().training.learning_rate,
        f"validation_{first}_per_epoch": [e["metrics"][f"eval_{first}"] for e in run.events() if e["type"] == "eval"],
        **{f"test_{name}": test[f"test_{name}"] for name in SCORES[task]},
        "wall_seconds": wall,
    }
    if task == "text-classification":
        baselines = run.eval_dir / "baselines.json"
        result["tfidf_logreg_test"] = {k: json.loads(baselines.read_text(encoding="utf-8"))["tfidf_logreg"]["test"][k] for k in ("accuracy", "f1_macro")}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=list(TASK), default="banking77")
    parser.add_argument("--train-rows", type=int, default=3000, help="banking77: training sentences.")
    parser.add_argument("--validation-rows", type=int, default=1000, help="banking77: validation sentences, from the training file.")
    parser.add_argument("--seeds", type=int, nargs="+", help="Train each variant once per seed; default: once, at the config's default seed.")
    parser.add_argument("--out", help="Default: benchmarks/results/<dataset>.json")
    args = parser.parse_args()
    if not (DATA / args.dataset).is_dir():
        raise SystemExit(f"{DATA / args.dataset} is missing: this benchmark reads it from ../shared/data.")
    task = TASK[args.dataset]
    variants = {"head_at_the_learning_rate": {"head_learning_rate": TASKS[task].default_learning_rate}, "defaults": {}}
    result: dict = {"dataset": args.dataset, "task": task}
    for seed in args.seeds or [None]:
        for name, options in variants.items():
            with tempfile.TemporaryDirectory() as tmp:
                workdir = Path(tmp)
                if args.dataset == "banking77":
                    files = banking77_files(workdir, args.train_rows, args.validation_rows)
                    result["data"] = {"train_rows": args.train_rows, "validation_rows": args.validation_rows, "test_rows": len(pd.read_csv(files["test"]))}
                else:
                    files = {role: str(DATA / "wnut17" / f"{role}.jsonl") for role in ("train", "validation", "test")}
                scores = train_once(files, workdir, task, options if seed is None else {**options, "seed": seed})
            if seed is None:
                result[name] = scores
            else:
                result.setdefault(name, {"by_seed": {}})["by_seed"][str(seed)] = scores
            print(json.dumps({name: scores, "seed": seed}), flush=True)
    result["machine"] = {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()}
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"{args.dataset}.json")
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
