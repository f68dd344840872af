"""How many epochs the bundled example needs: the studio's preselected data (320 movie reviews, split
256 / 32 / 32 by the seed) trained with the bundled model and the project's defaults, for 3 epochs and
for more, at several seeds.

With 256 training rows, 3 epochs at batches of 16 are 48 optimizer steps, and the training loss is
still falling when they end. Each seed draws its own split, so one seed's 32 test reviews say little;
the benchmark pools every seed's test predictions, reports each epoch count's pooled test accuracy
with its 95% interval, and the difference between the two on the same reviews (same seed, same split)
with a paired bootstrap. Only the test split is pooled: the run keeps its best evaluation on the
validation split, which makes that split's score optimistic, the more so the more evaluations there were.

    python benchmarks/example_epochs.py                       # about 15 minutes on 2 cores
    python benchmarks/example_epochs.py --seeds 42 1 --epochs 3 10
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
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from finetuner.config import RunConfig  # noqa: E402
from finetuner.intervals import mean_score, paired_difference, wilson  # noqa: E402
from sst2_classification import train_through_engine  # noqa: E402

EXAMPLE = ROOT / "finetuner" / "examples" / "movie_reviews.csv"


def train_example(epochs: float, seed: int, workdir: Path) -> dict:
    run, wall = train_through_engine(RunConfig.from_dict({"train_file": str(EXAMPLE), "num_train_epochs": epochs, "seed": seed}), workdir)
    correct = {split: pd.read_csv(run.eval_dir / f"predictions_{split}.csv")["correct"].astype(bool).tolist() for split in ("validation", "test")}
    evals = [e["metrics"] for e in run.events() if e["type"] == "eval"]
    losses = [e["metrics"]["loss"] for e in run.events() if e["type"] == "log" and "loss" in e["metrics"]]
    return {
        "validation_accuracy": float(np.mean(correct["validation"])),
        "test_accuracy": float(np.mean(correct["test"])),
        "validation_accuracy_per_epoch": [m["eval_accuracy"] for m in evals],
        "last_logged_train_loss": losses[-1] if losses else None,
        "wall_seconds": wall,
        "correct": correct["test"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3, 4, 5, 6, 7])
    parser.add_argument("--epochs", type=float, nargs=2, default=[3, 10], metavar=("FEWER", "MORE"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "example_epochs.json"))
    args = parser.parse_args()
    runs: dict[float, dict[int, dict]] = {epochs: {} for epochs in args.epochs}
    for seed in args.seeds:
        for epochs in args.epochs:
            with tempfile.TemporaryDirectory() as tmp:
                runs[epochs][seed] = train_example(epochs, seed, Path(tmp))
            shown = {k: v for k, v in runs[epochs][seed].items() if k != "correct"}
            print(json.dumps({"seed": seed, "epochs": epochs, **shown}), flush=True)
    pooled = {epochs: np.concatenate([by_seed[seed]["correct"] for seed in args.seeds]) for epochs, by_seed in runs.items()}
    fewer, more = args.epochs
    difference, low, high = paired_difference(pooled[more][:, None], pooled[fewer][:, None], mean_score)
    result = {
        "machine": {"cpus": os.cpu_count(), "finished": time.strftime("%Y-%m-%d %H:%M")},
        "seeds": args.seeds,
        "by_epochs": {
            str(epochs): {
                "pooled_test_accuracy": float(pooled[epochs].mean()),
                "pooled_test_accuracy_95_interval": wilson(int(pooled[epochs].sum()), len(pooled[epochs])),
                "pooled_test_examples": len(pooled[epochs]),
                "mean_wall_seconds": float(np.mean([r["wall_seconds"] for r in by_seed.values()])),
                "by_seed": {str(seed): {k: v for k, v in r.items() if k != "correct"} for seed, r in by_seed.items()},
            }
            for epochs, by_seed in runs.items()
        },
        f"accuracy_{more:g}_minus_{fewer:g}_epochs_on_the_same_test_reviews": {"difference": difference, "low_95": low, "high_95": high},
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "by_epochs"} | {e: {k: v for k, v in r.items() if k != "by_seed"} for e, r in result["by_epochs"].items()}, indent=1))


if __name__ == "__main__":
    main()
