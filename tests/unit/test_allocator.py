from __future__ import annotations

import subprocess
import sys

import pytest

# A training step's pattern at 10,000 genes x 1,024 units, through the C allocator itself (numpy and torch add
# their own huge-page advice): a float32 gradient (40 MB) and a bf16 copy (20 MB) written and freed, 20 steps;
# the page faults of the steps after the first (a fresh process each time).
_FAULTS = """
import ctypes, resource, sys
from deepsubtype._allocator import keep_freed_memory
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "1":
    keep_freed_memory()
def step():
    blocks = [libc.malloc(size) for size in (40 << 20, 20 << 20)]
    for block, size in zip(blocks, (40 << 20, 20 << 20)):
        ctypes.memset(block, 1, size)
    for block in blocks:
        libc.free(block)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(keep: bool) -> int:
    result = subprocess.run([sys.executable, "-c", _FAULTS, "1" if keep else "0"], capture_output=True, text=True,
                            check=True)
    return int(result.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_freed_buffer_is_reused_without_page_faults() -> None:
    from deepsubtype._allocator import keep_freed_memory

    assert keep_freed_memory() is True
    # without the settings glibc maps the 40 MB block afresh every step (above its 32 MB ceiling): 20 x ~9,800
    # faults of 4 kB; with them both blocks are reused from the heap
    without, kept = _faults(keep=False), _faults(keep=True)
    assert without > 100_000 and kept < 1_000, (without, kept)
