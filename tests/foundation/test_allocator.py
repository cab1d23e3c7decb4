"""The engine tunes glibc's malloc: threads that allocate at once share two heaps, not one each, and big
buffers keep mappings of their own however big a buffer freed before them was."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's arenas")

# In a fresh process: eight threads allocating at once, then glibc's own count of its heaps.
PROBE = """
import ctypes, os, sys, tempfile, threading
from mats.allocator import tune_malloc

limited = "arena_max" in tune_malloc() if sys.argv[1] == "limit" else False
start = threading.Barrier(8)

def churn():
    start.wait()
    for _ in range(2000):
        kept = [bytearray(20_000) for _ in range(4)]  # malloc, below the mmap threshold
        del kept

threads = [threading.Thread(target=churn) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(fp))
    libc.fclose(ctypes.c_void_p(fp))
    heaps = open(out.name).read().count("<heap nr=")
print(limited, heaps)
"""


def glibc_defaults() -> dict[str, str]:
    """This environment without malloc settings: Dask's distributed, imported by other tests, sets
    ``MALLOC_TRIM_THRESHOLD_``, which fixes the mmap threshold too."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}


def run_probe(probe: str, mode: str, **malloc_env: str) -> list[str]:
    """``probe`` in a fresh interpreter, with glibc's defaults but for ``malloc_env``: the words of its
    last line (after any log line)."""
    env = {**glibc_defaults(), **malloc_env}
    done = subprocess.run(
        [sys.executable, "-c", probe, mode], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1].split()


def arenas(mode: str, **malloc_env: str) -> tuple[str, int]:
    limited, heaps = run_probe(PROBE, mode, **malloc_env)
    return limited, int(heaps)


def test_threads_allocating_at_once_share_two_arenas() -> None:
    assert arenas("limit") == ("True", 2)


def test_without_the_cap_glibc_gives_threads_arenas_of_their_own() -> None:
    limited, heaps = arenas("leave")
    assert limited == "False"
    assert heaps > 2  # what the cap saves: without it, contended threads open more


def test_an_operators_malloc_arena_max_wins() -> None:
    limited, heaps = arenas("limit", MALLOC_ARENA_MAX="3")
    assert limited == "False"
    assert heaps <= 3


# In a fresh process: a big buffer freed (glibc, left alone, raises its mmap threshold to its size), then
# one a quarter of that: does it get a mapping of its own (returned to the kernel when freed), or a piece
# of the heap (kept there, free, when freed)? Both are bigger than all the heap holds free, so neither can
# be served from a free piece whatever the interpreter's start-up left behind.
MAPPED_PROBE = """
import ctypes, sys
from mats.allocator import tune_malloc

tuned = "mmap_threshold" in tune_malloc() if sys.argv[1] == "tune" else False
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Mallinfo2
size = max(1 << 20, libc.mallinfo2().fordblks + (256 << 10))
start = libc.mallinfo2().hblkhd
big = bytearray(min(4 * size, 30 << 20))  # under glibc's 32 MiB cap on the threshold's rise
big_mapped = libc.mallinfo2().hblkhd - start >= len(big)
del big
before = libc.mallinfo2().hblkhd
buffer = bytearray(size)
print(tuned, big_mapped, libc.mallinfo2().hblkhd - before >= size)
"""


def mapped(mode: str, **malloc_env: str) -> tuple[str, str, str]:
    """(tune_malloc set the threshold, the big buffer was mapped, the smaller one was)."""
    tuned, big_mapped, own_mapping = run_probe(MAPPED_PROBE, mode, **malloc_env)
    return tuned, big_mapped, own_mapping


def test_a_big_buffer_after_a_bigger_one_freed_still_gets_its_own_mapping() -> None:
    assert mapped("tune") == ("True", "True", "True")


def test_left_alone_glibc_serves_it_from_the_heap_where_its_hole_stays() -> None:
    assert mapped("leave") == ("False", "True", "False")  # what the fixed threshold saves


def test_an_operators_mmap_threshold_wins() -> None:
    theirs = mapped("tune", GLIBC_TUNABLES="glibc.malloc.mmap_threshold=33554432")
    assert theirs == ("False", "False", "False")  # theirs, 32 MiB: both are the heap's
