"""Keep memory a CPU training step frees for the next step, instead of giving it back to the OS each time.

On a GPU, PyTorch's caching allocator keeps freed blocks for reuse. On the CPU, glibc's malloc serves
each block over 32 MiB with its own mmap and unmaps it on free, and trims freed memory at the top of
the heap, so a step that allocates and frees a large tensor pays for every one of its pages again: the
dense gradient of the bundled model's word table alone is 47 MB, and its steps took about 21,000 page
faults each, a fifth of their CPU time (benchmarks/training_step.py measures steps with and without).
Raising both of glibc's thresholds lets freed blocks go back to the heap and be reused, as CUDA's
allocator does. The process's peak memory is what its largest step needs either way; what changes is
that it is not returned to the OS between steps.
"""

from __future__ import annotations

import ctypes

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BELOW_BYTES = 1 << 30  # blocks under 1 GiB come from the heap, and freed heap memory stays in the process


def keep_freed_memory() -> bool:
    """Tell glibc to reuse freed memory in this process; False where the C library is not glibc (macOS, musl)."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BELOW_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BELOW_BYTES))
