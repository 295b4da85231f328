"""A worker's malloc serves large blocks from its heap, where the next step can reuse them
(app/runs/malloc.py; the effect on training steps is measured in bench/README.md).

Each case runs in a fresh Python, as a worker starts: malloc's settings are per process, and glibc's
default threshold moves with what the process freed before.
"""

import subprocess
import sys

import pytest

from tests.server import ROOT

PROGRAM = """
import ctypes, sys

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_long]
if sys.argv[1] == "reuse":
    from app.runs.malloc import reuse_freed_memory

    assert reuse_freed_memory()
if sys.argv[1] == "worker":
    from app.runs.worker import warm_up

    warm_up()
block = libc.malloc(24 << 20)  # a few steps' gradients: 24 MiB
print("heap" if block < libc.sbrk(0) else "mapped")  # the heap ends at the program break
"""


def where_a_large_block_goes(setup: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, setup], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and sbrk")
def test_a_worker_serves_large_blocks_from_its_heap():
    """glibc's default maps a 24 MiB block from the kernel afresh, and unmaps it when freed (a step's
    tensors then cost page faults at every step); after reuse_freed_memory, and so after a worker's
    warm-up, it comes from the heap, which keeps it when freed."""
    assert where_a_large_block_goes("default") == "mapped"
    assert where_a_large_block_goes("reuse") == "heap"
    assert where_a_large_block_goes("worker") == "heap"
