"""Which precision a run trains in: bf16 mixed precision by default where the hardware computes it fast.

bf16 autocast keeps float32 master weights and optimizer state, so it trains to the same accuracy as
float32 (benchmarks/sst2_classification.py: 0.811 both) while matrix products run in bf16. That is
about twice float32's speed on a GPU with bf16 units (compute capability 8.0 and later) and on a CPU with
AMX tiles (Intel Sapphire Rapids and later: 1.75x on the SST-2 benchmark); elsewhere bf16 is emulated or
missing and slower, so the default there stays float32. The user's own `bf16`/`fp16` option always wins.

Torch-free, so that the estimate shown before launch follows the same choice as the training process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

BF16 = "bf16"
FP16 = "fp16"
FP32 = "fp32"


def chosen_precision(extra_training_args: dict[str, Any], *, fast_bf16: bool) -> str:
    """`bf16`, `fp16` or `fp32` for a run: the user's bf16/fp16 options when given, else bf16 where it is fast."""
    if extra_training_args.get("bf16"):
        return BF16
    if extra_training_args.get("fp16"):
        return FP16
    if "bf16" in extra_training_args or "fp16" in extra_training_args:
        return FP32  # the user turned mixed precision off
    return BF16 if fast_bf16 else FP32


def cpu_has_amx_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """The CPU multiplies bf16 matrices in hardware (AMX), as its flags in /proc/cpuinfo say."""
    try:
        with cpuinfo.open() as lines:
            for line in lines:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split()
    except OSError:
        pass
    return False


@lru_cache(maxsize=1)
def gpu_has_bf16() -> bool:
    """The first NVIDIA GPU has bf16 units (compute capability 8.0 or later), as nvidia-smi reports it."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "" or not shutil.which("nvidia-smi"):
        return False
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"], capture_output=True, text=True, timeout=5, check=True).stdout
        return float(out.split()[0]) >= 8.0
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return False


def default_precision(extra_training_args: dict[str, Any], device: str) -> str:
    """The precision a run with these options trains in on this machine's `device` ("cpu" or "cuda"), without torch."""
    fast = gpu_has_bf16() if device == "cuda" else cpu_has_amx_bf16()
    return chosen_precision(extra_training_args, fast_bf16=fast)
