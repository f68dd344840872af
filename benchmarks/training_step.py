"""What one training step of the bundled model costs on this machine, without the Trainer around it.

A bare forward / backward / fused AdamW loop on random token ids, in float32 and with bf16 autocast, at
the default batch of SST-2's training sentences (16 x 13 tokens) and larger ones, and at the default batch
with the word embeddings frozen (`--freeze_embeddings true`). Reported per shape: milliseconds in each
phase, tokens/s and the FLOP rate (6 x non-embedding parameters per token) against the float32
2048 x 2048 matmul rate measured in the same run: how close this model's matrices can come to the
machine's peak, and so what share of the ceiling a full training run can hope for.

    python benchmarks/training_step.py            # about 2 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification  # noqa: E402

from finetuner.config import default_model_path  # noqa: E402
from finetuner.precision import cpu_has_fast_bf16  # noqa: E402
from sst2_classification import matmul_gflops, non_embedding_parameters  # noqa: E402

SHAPES = [(16, 13), (32, 13), (32, 26), (32, 64), (128, 13), (128, 26)]  # (batch, tokens per example); SST-2's training sentences average 13 tokens, its validation sentences 26
DEFAULT_SHAPE = SHAPES[0]  # text classification's default batch of 16


def time_steps(model, optimizer, batch: int, length: int, *, bf16: bool, steps: int = 8, warmup: int = 2) -> dict[str, float]:
    ids = torch.randint(1000, 20000, (batch, length))
    mask, labels = torch.ones_like(ids), torch.randint(0, 2, (batch,))
    phases = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    for step in range(warmup + steps):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        forward = time.perf_counter()
        loss.backward()
        backward = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad()
        end = time.perf_counter()
        if step >= warmup:
            phases["forward"] += forward - start
            phases["backward"] += backward - forward
            phases["optimizer"] += end - backward
    seconds = sum(phases.values()) / steps
    return {**{f"{name}_ms": 1000 * total / steps for name, total in phases.items()}, "tokens_per_second": batch * length / seconds}


def model_and_optimizer(*, frozen_embeddings: bool):
    model = AutoModelForSequenceClassification.from_pretrained(default_model_path(), num_labels=2)
    model.train()
    model.get_input_embeddings().weight.requires_grad_(not frozen_embeddings)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, fused=True)  # the Trainer's default optimizer
    return model, optimizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "training_step.json")
    args = parser.parse_args()
    gflops = matmul_gflops()
    model, optimizer = model_and_optimizer(frozen_embeddings=False)
    n_params = non_embedding_parameters(model)
    runs = [(model, optimizer, False, shape) for shape in SHAPES] + [(*model_and_optimizer(frozen_embeddings=True), True, DEFAULT_SHAPE)]
    rows = []
    for model, optimizer, frozen, (batch, length) in runs:
        for bf16 in (False, True) if cpu_has_fast_bf16() else (False,):
            result = time_steps(model, optimizer, batch, length, bf16=bf16)
            rate = 6 * n_params * result["tokens_per_second"] / 1e9
            rows.append({"batch": batch, "length": length, "bf16": bf16, "frozen_embeddings": frozen, **result, "gflops": rate, "share_of_fp32_matmul": rate / gflops})
            print(json.dumps(rows[-1]), flush=True)
    args.out.write_text(json.dumps({"fp32_matmul_gflops": gflops, "non_embedding_parameters": n_params, "cpus": os.cpu_count(), "steps": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
