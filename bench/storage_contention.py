"""Loop lag while ArcticDB works flat out on the same CPU, with the storage threads at nice 0 and at
``storage.thread_nice`` (mats.thread_priority). Issue 7.

    .venv/bin/python bench/storage_contention.py [--seconds 8] [--rounds 2] [--rows 2000000] [--json]

The process is pinned to one CPU, as an engine sharing a small machine is. A task reads a table of
``--rows`` rows from LMDB over and over, through the engine's own ``ArcticStore`` (its storage thread,
and ArcticDB's worker threads started from it), while the loop sleeps 1 ms at a time and records how
late it wakes. ArcticDB decodes with the GIL released, so its threads take the CPU from the loop's; at a
higher nice value the scheduler hands the CPU back to the loop at once. Each setting runs in its own
process (ArcticDB's thread pools are started once per process and keep their nice value), alternating,
``--rounds`` times each; the nice-0 runs are the baseline, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from mats.config import StorageSettings
from mats.store.arctic import ArcticStore


async def measure(nice: int, seconds: float, rows: int) -> dict[str, float]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory(prefix="mats-contention-") as tmp:
        async with ArcticStore(f"lmdb://{tmp}/arctic", thread_nice=nice) as store:
            index = pd.date_range("2026-11-23", periods=rows, freq="s")
            table = pd.DataFrame({c: np.random.default_rng(7).random(rows) for c in "abcdef"}, index=index)
            await store.write("bench", "big", table)
            stop = asyncio.Event()
            reads = 0

            async def read_forever() -> None:
                nonlocal reads
                while not stop.is_set():
                    await store.read("bench", "big")
                    reads += 1

            reading = asyncio.create_task(read_forever())
            late: list[float] = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                began = time.perf_counter()
                await asyncio.sleep(0.001)
                late.append((time.perf_counter() - began - 0.001) * 1000)
            stop.set()
            await reading
    late.sort()
    return {
        "nice": nice,
        "reads": reads,
        "p50_ms": late[len(late) // 2],
        "p99_ms": late[int(0.99 * (len(late) - 1))],
        "max_ms": late[-1],
    }


def run_child(nice: int, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(nice), "--seconds", str(args.seconds)]
    done = subprocess.run([*command, "--rows", str(args.rows)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"nice {nice} run failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--json", action="store_true", help="end with one line of JSON: the figures")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(measure(args.child, args.seconds, args.rows))))
        return 0
    nice = StorageSettings().thread_nice
    print(
        f"loop lag (1 ms sleeps, late by) while ArcticDB reads {args.rows:,} rows over and over, one CPU; "
        f"{args.rounds} x {args.seconds:g} s per setting, alternating"
    )
    runs: dict[int, list[dict[str, float]]] = {0: [], nice: []}
    for _ in range(args.rounds):
        for setting in (0, nice):
            result = run_child(setting, args)
            runs[setting].append(result)
            print(
                f"  storage threads at nice {setting:2d}: late p50 {result['p50_ms']:5.2f}  "
                f"p99 {result['p99_ms']:5.2f}  max {result['max_ms']:6.2f} ms   ({result['reads']:.0f} reads)"
            )
    base = statistics.median(r["p99_ms"] for r in runs[0])
    ours = statistics.median(r["p99_ms"] for r in runs[nice])
    print(f"median p99: nice 0 {base:.2f} ms, nice {nice} {ours:.2f} ms: {base / ours:.1f}x less late")
    if args.json:
        figures = {"bench": "storage_contention", "loop_late_p99_ms": ours, "nice0_late_p99_ms": base}
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
