"""The threads that call ArcticDB, and the threads ArcticDB starts from them, yield the CPU to the loop's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mats.thread_priority import BACKGROUND_NICE, lower_this_thread

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")

# A fresh process, so ArcticDB's thread pools are started by the storage thread, as in an engine.
PROBE = """
import asyncio, json, os, sys, threading
import pandas as pd
from mats.store.arctic import ArcticStore

def nice_of(tid):
    stat = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
    return int(stat[16])

async def main():
    async with ArcticStore(f"lmdb://{sys.argv[1]}/arctic", thread_nice=int(sys.argv[2])) as store:
        rows = pd.DataFrame({"qty": [1.0, 2.0]}, index=pd.date_range("2026-11-23", periods=2, freq="s"))
        await store.write("acct", "fills", rows)
        await store.append("acct", "fills", rows.set_axis(rows.index + pd.Timedelta(minutes=1)))
        threads = {
            open(f"/proc/self/task/{tid}/comm").read().strip() + ":" + tid: nice_of(tid)
            for tid in os.listdir("/proc/self/task")
        }
        print(json.dumps({"loop": nice_of(threading.get_native_id()), "threads": threads}))

asyncio.run(main())
"""


def probe(tmp_path: Path, nice: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), str(nice)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith('{"loop"'))  # not the logs
    result: dict[str, object] = json.loads(line)
    return result


def arctic_pools(threads: object) -> dict[str, int]:
    assert isinstance(threads, dict)
    return {name: nice for name, nice in threads.items() if name.startswith(("CPUPool", "IOPool"))}


def test_arcticdb_threads_run_below_the_loop(tmp_path: Path) -> None:
    result = probe(tmp_path, BACKGROUND_NICE)
    assert result["loop"] == 0
    pools = arctic_pools(result["threads"])
    assert pools, f"no ArcticDB pool threads among {result['threads']}"
    assert all(nice == BACKGROUND_NICE for nice in pools.values()), pools


def test_thread_nice_zero_leaves_every_thread_as_it_was(tmp_path: Path) -> None:
    result = probe(tmp_path, 0)
    assert set(arctic_pools(result["threads"]).values()) == {0}


def test_lowering_is_for_the_calling_thread_only_and_never_raises_it_back() -> None:
    seen: list[int | None] = []

    def background() -> None:
        seen.append(lower_this_thread(12))
        seen.append(lower_this_thread(5))  # already lower than asked: stays at 12, no error
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    worker = threading.Thread(target=background)
    worker.start()
    worker.join(10)
    assert seen == [12, 12, 12]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0
