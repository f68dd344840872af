"""Which precision a run trains in: bf16 mixed precision by default where the hardware computes it fast.

bf16 autocast keeps float32 master weights and optimizer state, so it trains to the same accuracy as
float32 (benchmarks/sst2_classification.py: 0.811 both) while matrix products run in bf16, at about twice
float32's rate on a GPU with bf16 units (compute capability 8.0 and later) and on a CPU with bf16
instructions. Whole SST-2 runs: 1.66x faster with AMX tiles (Intel Sapphire Rapids and later), 1.35x to
1.48x with AVX-512 BF16 (AMD Zen 4 and later, Intel Cooper Lake; measured on an AMD EPYC). Elsewhere
bf16 is emulated and slower, so the default there stays float32. The user's own `bf16`/`fp16` option always wins.

Torch-free, so that the estimate shown before launch (whose `Machine` knows whether its GPU or CPU has
fast bf16) makes the same choice as the training process.
"""

from __future__ import annotations

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


# CPU flags (as /proc/cpuinfo spells them) of instructions that multiply bf16 matrices in hardware.
FAST_BF16_CPU_FLAGS = {"amx_bf16", "avx512_bf16"}


def cpu_has_fast_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """The CPU multiplies bf16 matrices in hardware (AMX or AVX-512 BF16), as its flags in /proc/cpuinfo say."""
    try:
        with cpuinfo.open() as lines:
            for line in lines:
                if line.startswith("flags"):
                    return not FAST_BF16_CPU_FLAGS.isdisjoint(line.split())
    except OSError:
        pass
    return False
