"""What the soak's engine process logs about itself, and the soak's summary of those lines (bench/soak.py).

Each watcher runs on the engine's loop and prints to stderr, which is the demo's log; ``summary`` picks
their lines out of that log at the end:

- ``--slow-callbacks MS``: every minute, the loop callbacks over MS, by name;
- ``--trace-growth MIN``: from minute MIN, Python's allocations still alive, by site, every five minutes;
- ``--malloc-stats``: every five minutes, where the heap's memory is: pymalloc's arenas (objects up to
  512 bytes) against their live blocks, and glibc's malloc (bigger objects and C extensions such as
  ArcticDB) in use against free but kept. Once the Python objects are bounded (``--trace-growth``), this
  says whether what still grows is fragmentation or memory some C code keeps.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

MIB = 1024 * 1024
PREFIXES = ("slow callbacks, ", "growth, ", "malloc, ")


async def log_slow_callbacks(threshold: float) -> None:
    """Every minute: the loop callbacks over ``threshold`` seconds in that minute, by name, with the worst
    one's wall and CPU time (wall far above CPU: the loop was waiting for a CPU or for the GIL)."""
    from live_latency import SlowCallbacks

    minute = 0
    with SlowCallbacks(threshold) as slow:
        while True:
            await asyncio.sleep(60)
            minute += 1
            worst = "; ".join(
                f"{name} {count} ({wall * 1000:.1f}/{cpu * 1000:.1f} ms)"
                for name, count, wall, cpu in slow.worst(6)
            )
            print(f"slow callbacks, minute {minute}: {len(slow.slow)}; {worst}", file=sys.stderr, flush=True)
            slow.slow.clear()


async def log_growth(
    after_minutes: float, every_minutes: float = 5.0, top: int = 12, frames: int = 1
) -> None:
    """From ``after_minutes`` on, trace Python's allocations; every ``every_minutes``, what was allocated
    since then and is still alive, by allocation site (``frames`` deep). Started once the bounds are full,
    so what it shows is what grows past them. It is not free: with eight frames the engine went from 20%
    to 100% of a CPU and its loop lag to 76 ms, and the first snapshot held the loop for 7–10 s; so one
    frame, and it starts late rather than at start-up."""
    import tracemalloc

    await asyncio.sleep(after_minutes * 60)
    tracemalloc.start(frames)
    began = time.monotonic()
    while True:
        await asyncio.sleep(every_minutes * 60)
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<unknown>")]
        )
        stats = snapshot.statistics("traceback")
        total = sum(s.size for s in stats) / MIB
        minutes = after_minutes + (time.monotonic() - began) / 60
        print(f"growth, minute {minutes:.0f}: {total:.1f} MiB alive of what was allocated since minute "
              f"{after_minutes:g}", file=sys.stderr, flush=True)  # fmt: skip
        for stat in stats[:top]:
            frames = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(stat.traceback))
            print(f"growth,   {stat.size / MIB:6.2f} MiB {stat.count:7d} blocks  {frames}", file=sys.stderr,
                  flush=True)  # fmt: skip


def malloc_line(minute: float) -> str:
    """RSS (anonymous, file-backed) and the heap's parts: pymalloc's arenas and their live blocks, glibc's
    malloc in use and free but kept (bench/memory_profile.py's)."""
    from memory_profile import heap_parts, rss_parts

    return f"malloc, minute {minute:.0f}: {rss_parts()}; {heap_parts()}"


async def log_malloc(every_minutes: float = 5.0) -> None:
    began = time.monotonic()
    while True:
        await asyncio.sleep(every_minutes * 60)
        print(malloc_line((time.monotonic() - began) / 60), file=sys.stderr, flush=True)


def watchers(slow_ms: float, trace_after: float, malloc_stats: bool) -> list[asyncio.Task[None]]:
    """Starts the watchers asked for, on the running loop."""
    coros = [
        *([log_slow_callbacks(slow_ms / 1000)] if slow_ms else []),
        *([log_growth(trace_after)] if trace_after else []),
        *([log_malloc()] if malloc_stats else []),
    ]
    return [asyncio.create_task(coro) for coro in coros]


def summary(log_text: str, slow_ms: float) -> list[str]:
    """The watchers' lines in the demo's log, for the soak's summary: every slow-callback and malloc
    line, and the last allocation report."""
    lines = [line for line in log_text.splitlines() if line.startswith(PREFIXES)]
    out: list[str] = []
    growth = [line for line in lines if line.startswith("growth, ")]
    if growth:
        last = max(i for i, line in enumerate(growth) if line.startswith("growth, minute"))
        out.append(
            "Python allocations since --trace-growth's minute, still alive, by site (the last report):"
        )
        out += [f"  {line[len('growth, ') :][:400]}" for line in growth[last:]]
    slow = [line for line in lines if line.startswith("slow callbacks, minute")]
    if slow:
        out.append(f"loop callbacks over {slow_ms:g} ms (name count (worst wall/its CPU)):")
        out += [f"  {line[len('slow callbacks, ') :][:300]}" for line in slow]
    malloc = [line for line in lines if line.startswith("malloc, minute")]
    if malloc:
        out.append("where the engine's heap is (MiB):")
        out += [f"  {line[len('malloc, ') :]}" for line in malloc]
    return out
