"""glibc's malloc, told how a long-running engine uses it, so its heap stops creeping without a leak.

Two settings, each measured with ``bench/soak.py`` (docs/storage.md "Memory over a long session"):

- **Two arenas.** glibc gives each thread that meets a locked arena an arena of its own, up to eight per
  CPU. ArcticDB's worker threads, the storage thread and the loop's thread all allocate and free buffers
  of every size, and each arena keeps what was freed in it. Two are enough for an engine whose ArcticDB
  calls run one at a time. 25 minutes at 60x with every bound small: the heap grew 29 MiB/h with
  glibc's default arenas and 6 MiB/h with two.
- **A fixed mmap threshold.** glibc serves a request over the threshold (128 KiB at first) with a mapping
  of its own, returned to the kernel when freed; but each time such a mapping is freed it raises the
  threshold to that size, up to 32 MiB. After the first few of ArcticDB's segment buffers and the
  bounded containers' big tables, every request up to megabytes comes from the arenas, and freed there
  it leaves a hole that the next request, of another size, seldom fits: the "free but kept" figure of
  ``bench/soak.py --malloc-stats`` grew from 46 to 180 MiB in 65 minutes at 120x. With the threshold
  fixed where it starts, free-but-kept stayed within 30–60 MiB and the heap's slope after the bounds
  filled fell from +69 to +1.6 MiB/h. The trim threshold (free memory at the top of the heap kept for
  the next request) is set with it, as glibc ties the two.

``Engine.run`` tunes before its components start their threads, and ``mats sim`` at its start. An
operator's own setting wins, one by one (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``, ``glibc.malloc.*`` in ``GLIBC_TUNABLES``); setting either threshold in any of
these ways fixes glibc's mmap threshold too (Dask's distributed sets ``MALLOC_TRIM_THRESHOLD_`` for the
same reason). Not glibc (musl, macOS): nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import structlog

log = structlog.get_logger(__name__)

# glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ENGINE_ARENAS = 2
ENGINE_MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept from rising
ENGINE_TRIM_THRESHOLD = 1024 * 1024


def _operator_sets(env_name: str, tunable: str) -> bool:
    return bool(os.environ.get(env_name)) or f"glibc.malloc.{tunable}" in os.environ.get("GLIBC_TUNABLES", "")


def tune_malloc(
    arenas: int = ENGINE_ARENAS,
    mmap_threshold: int = ENGINE_MMAP_THRESHOLD,
    trim_threshold: int = ENGINE_TRIM_THRESHOLD,
) -> dict[str, int]:
    """Sets what the operator has not; returns what was set here (empty: not glibc, or all theirs)."""
    if not sys.platform.startswith("linux"):
        return {}
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return {}
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    wanted = [
        ("arena_max", "MALLOC_ARENA_MAX", M_ARENA_MAX, arenas),
        ("mmap_threshold", "MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, mmap_threshold),
        ("trim_threshold", "MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD, trim_threshold),
    ]
    done = {
        name: value
        for name, env_name, option, value in wanted
        if not _operator_sets(env_name, name) and mallopt(option, value)
    }
    log.debug("allocator.tuned", **done)
    return done
