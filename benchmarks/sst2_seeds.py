"""How much of the SST-2 accuracy comparison is the seed: finetuner's defaults (c) and the plain Trainer
script (b) of `sst2_classification.py`, each trained with several seeds on the same 2,000 sentences and
evaluated on the same 872 validation sentences. The seed sets the classifier head's initialisation,
dropout and the order of the batches; 0.01 of validation accuracy is about 9 sentences.

    python benchmarks/sst2_seeds.py                  # about 15 minutes on 2 cores
    python benchmarks/sst2_seeds.py --seeds 42 1 2 3
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sst2_seeds.json"))
    args = parser.parse_args()
    if not SST2.is_dir():
        raise SystemExit(f"{SST2} is missing: this benchmark reads SST-2 from ../shared/data.")
    train, validation = load_sst2(args.train_rows, 0)
    runs = {"b_trainer_dynamic_padding": {}, "c_finetuner_defaults": {}}
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            runs["c_finetuner_defaults"][seed] = finetuner_c(train, validation, Path(tmp), 1.0, seed=seed)["accuracy"]
        with tempfile.TemporaryDirectory() as tmp:
            runs["b_trainer_dynamic_padding"][seed] = plain_b(train, validation, Path(tmp), seed=seed)["accuracy"]
        print(json.dumps({name: by_seed[seed] for name, by_seed in runs.items()} | {"seed": seed}), flush=True)
    result = {
        name: {"accuracy_by_seed": by_seed, "mean": statistics.mean(by_seed.values()), "min": min(by_seed.values()), "max": max(by_seed.values())}
        for name, by_seed in runs.items()
    }
    Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
