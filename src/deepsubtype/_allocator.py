"""Process-level settings of the C allocator for the pipeline's jobs (one fit or a few per process).

A training step allocates and frees buffers the size of the first layer (its gradient, bf16 copies: 20 MB at
5,000 genes x 1,024 units, 80 MB at 20,000). glibc's malloc maps such blocks fresh from the kernel and
returns them on free, raising its thresholds only as it sees them freed, and never above 32 MB; until it
has (and for every block above 32 MB, always), each step takes thousands of page faults to zero new pages.
On the demo, the first fit of a fresh process (600 steps, 2 threads) took 3,763-4,602 faults a step and
13.7-19.5 s; with these settings it took 86 faults a step and 10.9-11.6 s, as fast as later fits in the
same process. The stages' entry points (the workflow's scripts, the command line) call
:func:`keep_freed_memory` once.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["keep_freed_memory"]

#: glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold: int = 256 << 20, trim_threshold: int = 512 << 20) -> bool:
    """Have glibc's malloc serve blocks under ``mmap_threshold`` bytes from its heap and keep up to
    ``trim_threshold`` bytes of freed heap for reuse. Larger blocks (a cohort's matrix) are still mapped and
    returned to the system when freed. A job's resident memory can stay up to ``trim_threshold`` above what it
    holds (its peak rarely moves: a freed block is reused by the next one). Returns whether the settings took
    effect: False where the C library is not glibc (macOS, musl), which then keeps its own behaviour."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
