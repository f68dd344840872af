"""BANKING77 (77 intents) on the bundled all-MiniLM-L6-v2: what the head's own learning rate buys.

A classification head starts from small random weights; at the encoder's learning rate (5e-5) a head
for 77 classes grows too slowly to be of use within 3 epochs. This trains finetuner's defaults twice on
the same data, through the engine as a user runs it:

  head at the learning rate:  `--head_learning_rate 5e-5`, the only rate before head_learning_rate existed;
  defaults:                   the head at 5e-3 (text classification's default head_learning_rate).

Data: 3,000 sentences sampled (seeded) from BANKING77's training file, 1,000 others from it as the
validation split (used during training and to pick the best checkpoint), and the full 3,080-sentence
test file, seen once at the end. The run's own TF-IDF + logistic regression baseline, trained on the
same 3,000 sentences, is reported beside them. Reported: validation accuracy per epoch, test accuracy and
macro F1, wall time.

    python benchmarks/banking77.py             # about 7 minutes on 2 cores
    python benchmarks/banking77.py --train-rows 9000
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

import pandas as pd  # noqa: E402

from finetuner.config import RunConfig  # noqa: E402
from finetuner.runs import RunStore  # noqa: E402
from finetuner.train import run_training  # noqa: E402

BANKING77 = ROOT.parent / "shared" / "data" / "banking77"
VARIANTS = {"head_at_the_learning_rate": {"head_learning_rate": 5e-5}, "defaults": {}}


def train_once(workdir: Path, options: dict) -> dict:
    config = RunConfig.from_dict({"train_file": str(workdir / "train.csv"), "validation_file": str(workdir / "validation.csv"), "test_file": str(workdir / "test.csv"), **options})
    run = RunStore(workdir / "runs").create(config)
    start = time.perf_counter()
    state = run_training(run)
    wall = time.perf_counter() - start
    if state != "completed":
        raise SystemExit(f"run {state}: {run.status().get('error')}")
    test = run.metrics("test")
    baselines = json.loads((run.eval_dir / "baselines.json").read_text(encoding="utf-8"))
    return {
        "head_learning_rate": run.config().training.head_learning_rate,
        "learning_rate": run.config().training.learning_rate,
        "validation_accuracy_per_epoch": [e["metrics"]["eval_accuracy"] for e in run.events() if e["type"] == "eval"],
        "test_accuracy": test["test_accuracy"],
        "test_f1_macro": test["test_f1_macro"],
        "wall_seconds": wall,
        "tfidf_logreg_test": {k: baselines["tfidf_logreg"]["test"][k] for k in ("accuracy", "f1_macro")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=3000)
    parser.add_argument("--validation-rows", type=int, default=1000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "banking77.json"))
    args = parser.parse_args()
    if not BANKING77.is_dir():
        raise SystemExit(f"{BANKING77} is missing: this benchmark reads BANKING77 from ../shared/data.")
    shuffled = pd.read_csv(BANKING77 / "train.csv").sample(frac=1, random_state=0)
    result = {"data": {"train_rows": args.train_rows, "validation_rows": args.validation_rows}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        shuffled.iloc[: args.train_rows].to_csv(workdir / "train.csv", index=False)
        shuffled.iloc[args.train_rows : args.train_rows + args.validation_rows].to_csv(workdir / "validation.csv", index=False)
        pd.read_csv(BANKING77 / "test.csv").to_csv(workdir / "test.csv", index=False)
        result["data"]["test_rows"] = len(pd.read_csv(workdir / "test.csv"))
        for name, options in VARIANTS.items():
            with tempfile.TemporaryDirectory(dir=workdir) as variant_dir:
                for file in ("train.csv", "validation.csv", "test.csv"):
                    (Path(variant_dir) / file).write_bytes((workdir / file).read_bytes())
                result[name] = train_once(Path(variant_dir), options)
            print(json.dumps({name: result[name]}), flush=True)
    result["machine"] = {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()}
    Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
