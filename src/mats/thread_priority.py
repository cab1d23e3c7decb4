"""Background threads yield the CPU to the event loop's thread.

Orders leave from the loop's thread; everything else the engine runs on threads (ArcticDB appends and
compactions, and the worker threads ArcticDB starts from them) can wait a millisecond. On a machine with
few CPUs those threads compete with the loop for a core, and a loop thread that wakes for a bar while an
append holds its core waits for the scheduler's next turn: the slow tail of tick-to-order (issue 7,
docs/live-trading.md "Latency"). A higher nice value makes the scheduler hand the core to the loop at once.

Linux keeps a nice value per thread and a thread starts with its creator's, so lowering the storage
thread before it first calls ArcticDB lowers the threads ArcticDB starts from it too. An unprivileged
process can raise a nice value but never lower it again, so only threads that are background for good
are lowered: anyio's worker threads, which carry the store's calls (and, after one, whatever other
blocking call the engine hands them), never the loop's thread.
"""

from __future__ import annotations

import os
import threading

import structlog

log = structlog.get_logger(__name__)

BACKGROUND_NICE = 10  # the scheduler's weight ratio to nice 0 is about 1:10


def lower_this_thread(nice: int = BACKGROUND_NICE) -> int | None:
    """Raise the calling thread's nice value to at least ``nice``; returns the value it runs at, or None
    where threads have no nice value of their own (not Linux) or the call is refused."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return None
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, thread, nice)
            return nice
        return current
    except OSError as exc:  # a sandbox may refuse: the call path runs on, only less politely
        log.debug("thread_priority.refused", nice=nice, error=str(exc))
        return None
