"""glibc's malloc, set for a process that trains: every step allocates and frees the same large tensors.

By default glibc hands out each block above its mmap threshold (128 KiB at first, raised as such blocks
are freed) as fresh pages from the kernel, and returns the top of its heap to the kernel once more than
twice that threshold lies free there. A training step allocates and frees tensors of 0.3-3 MB (scores,
activations, gradients), and in a fresh process both kept happening: a 4-member MLP cohort step touched
0-850 fresh pages, one page fault each, and took 3.9-4.8 ms (mean 4.35) where it takes a steady 4.03
with the thresholds fixed; a lone MLP step 1.69 ms against 1.60 on average (bench/README.md, "Fresh
pages at every step").

Fixing both thresholds keeps the freed blocks in the heap for the next step: blocks up to 32 MiB (glibc's
largest threshold on 64-bit) come from the heap, and up to 64 MiB may lie free there before it shrinks.
"""

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 64 << 20


def reuse_freed_memory() -> bool:
    """Set this process's malloc to reuse freed blocks (above); False where the C library has no
    mallopt (musl, macOS), which then keeps its own ways."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
