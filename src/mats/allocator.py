"""Fewer malloc arenas: the engine's heap stops creeping with every thread that frees what another made.

glibc gives each thread that meets a locked arena an arena of its own, up to eight per CPU. ArcticDB's
worker threads, the storage thread and the loop's thread all allocate and free buffers of every size,
and each arena keeps what was freed in it, in pieces that seldom fit the next request, so the heap grows
slowly with the number of appends, without a leak anywhere (issue 12, docs/storage.md "Memory over a
long session"). Two arenas are enough for an engine whose ArcticDB calls run one at a time.

``Engine.run`` sets the cap before its components start their threads, and ``mats sim`` at its start.
Measured: 25 minutes at 60x with every bound small (bench/soak.py), the heap grew 29 MiB/h with glibc's
default arenas and 6 MiB/h with two. An operator's own ``MALLOC_ARENA_MAX`` wins; not glibc (musl,
macOS): nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import structlog

log = structlog.get_logger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h
ENGINE_ARENAS = 2


def limit_malloc_arenas(arenas: int = ENGINE_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; True when the cap was set here."""
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_ARENA_MAX, arenas))
    log.debug("allocator.arenas_limited", arenas=arenas, done=done)
    return done
