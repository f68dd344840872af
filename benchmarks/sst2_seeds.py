"""How much of the SST-2 accuracy comparison is the seed: finetuner's defaults (c: batch 16, lr 5e-5 for
classification, its new head at 5e-3), the same with frozen word embeddings (c_frozen: `--freeze_embeddings true`), with batches of 8 (c_batch_8, as b), the
earlier defaults (c32: batch 32, lr 1e-4, half the optimizer steps) and the plain Trainer script (b)
of `sst2_classification.py`, each trained with several seeds on the same 2,000 sentences and evaluated
on the same 872 validation sentences. The seed sets the classifier head's initialisation, dropout and
the order of the batches; 0.01 of validation accuracy is about 9 sentences.

Reported per variant: accuracy and wall time for every seed, their means, and the spread (min, max,
standard deviation) that any single-seed comparison has to be read against.

    python benchmarks/sst2_seeds.py                  # about 35 minutes on 2 cores without bf16, 25 with
    python benchmarks/sst2_seeds.py --seeds 42 1 2 3
    python benchmarks/sst2_seeds.py --variants c_finetuner_defaults --out benchmarks/results/sst2_seeds_defaults.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from sst2_classification import SST2, finetuner_c, load_sst2, plain_b  # noqa: E402

VARIANTS = {
    "c_finetuner_defaults": lambda train, validation, tmp, seed: finetuner_c(train, validation, tmp, seed=seed),
    "c_frozen_embeddings": lambda train, validation, tmp, seed: finetuner_c(train, validation, tmp, seed=seed, freeze_embeddings=True),
    "c_batch_8": lambda train, validation, tmp, seed: finetuner_c(train, validation, tmp, seed=seed, per_device_train_batch_size=8),
    "c32_batch_32_lr_1e-4": lambda train, validation, tmp, seed: finetuner_c(train, validation, tmp, seed=seed, per_device_train_batch_size=32, learning_rate=1e-4),
    "b_trainer_dynamic_padding": lambda train, validation, tmp, seed: plain_b(train, validation, tmp, seed=seed),
}


def summary(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.mean(values), "min": min(values), "max": max(values), "stdev": statistics.stdev(values) if len(values) > 1 else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3, 4])
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), help="Which variants to train (default: all).")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sst2_seeds.json"))
    args = parser.parse_args()
    if not SST2.is_dir():
        raise SystemExit(f"{SST2} is missing: this benchmark reads SST-2 from ../shared/data.")
    train, validation = load_sst2(args.train_rows, 0)
    runs: dict[str, dict[int, dict]] = {name: {} for name in args.variants}
    for seed in args.seeds:
        for name in args.variants:
            with tempfile.TemporaryDirectory() as tmp:
                result = VARIANTS[name](train, validation, Path(tmp), seed)
            runs[name][seed] = {"accuracy": result["accuracy"], "accuracy_per_epoch": result["accuracy_per_epoch"], "wall_seconds": result["wall_seconds"], "precision": result.get("precision", "fp32")}
        print(json.dumps({name: by_seed[seed] for name, by_seed in runs.items()} | {"seed": seed}), flush=True)
    result = {
        name: {
            "by_seed": by_seed,
            "accuracy": summary([r["accuracy"] for r in by_seed.values()]),
            "wall_seconds": summary([r["wall_seconds"] for r in by_seed.values()]),
        }
        for name, by_seed in runs.items()
    }
    Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
