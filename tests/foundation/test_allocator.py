"""The engine caps glibc's malloc arenas, so threads that allocate at once share two heaps, not one each."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's arenas")

# In a fresh process: eight threads allocating at once, then glibc's own count of its heaps.
PROBE = """
import ctypes, os, sys, tempfile, threading
from mats.allocator import limit_malloc_arenas

limited = limit_malloc_arenas() if sys.argv[1] == "limit" else False
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


def arenas(mode: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    limited, heaps = done.stdout.splitlines()[-1].split()  # after any log line
    return limited, int(heaps)


def test_threads_allocating_at_once_share_two_arenas() -> None:
    assert arenas("limit") == ("True", 2)


def test_without_the_cap_glibc_gives_threads_arenas_of_their_own() -> None:
    limited, heaps = arenas("leave")
    assert limited == "False"
    assert heaps > 2  # what the cap saves: without it, contended threads open more


def test_an_operators_malloc_arena_max_wins() -> None:
    limited, heaps = arenas("limit", env={**os.environ, "MALLOC_ARENA_MAX": "3"})
    assert limited == "False"
    assert heaps <= 3
