"""The flusher compacts what it appends, so a long day's micro-batches never pile up into thousands of
segments (each one makes the next append slower and ArcticDB's memory larger: bench/memory_profile.py)."""

from __future__ import annotations

import math
from pathlib import Path

import anyio
from fillgen import make_fill

from mats.store import ArcticStore, FillsReader, Flusher, Journal

ACCOUNT = "DU0000001"


def segments(store: ArcticStore, symbol: str) -> int:
    """Data segments in the symbol's latest version (ArcticDB's index has one row per segment)."""
    return len(store._lib(ACCOUNT, create=False)._nvs.read_index(symbol))


async def test_the_flusher_compacts_every_n_appends_and_keeps_every_row_and_its_last_seq(
    tmp_path: Path,
) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal, ArcticStore(f"lmdb://{tmp_path}/arctic") as store:
        flusher = Flusher(journal, store, ACCOUNT, interval=3600, compact_after=5)
        await flusher.recover()
        most = 0
        for n in range(1, 24):
            await journal.record_fills([make_fill(2 * n), make_fill(2 * n + 1)])
            assert await flusher.flush_once() == 2
            most = max(most, segments(store, "fills"))
        # the first append after the start compacts, then every fifth: 1, 6, 11, 16, 21
        assert flusher.appends == 23
        assert flusher.compactions == 5
        assert most <= 5, f"the appended tail reached {most} segments"
        meta = await store.read_metadata(ACCOUNT, "fills")
        assert meta["last_seq"] == journal.committed_seq
        folded = await FillsReader(store, ACCOUNT).folded()
        assert sorted(folded["base_exec_id"]) == [f"0000e0d5.{n:08d}" for n in range(2, 48)]

        # a restart resumes after the compacted rows: nothing is flushed twice
        again = Flusher(journal, store, ACCOUNT, interval=3600, compact_after=5)
        assert (await again.recover())["fills"] == journal.committed_seq
        assert await again.flush_once() == 0


async def test_fills_committed_while_the_flusher_runs_are_batched_one_append_per_interval(
    tmp_path: Path,
) -> None:
    """Rows committed during a flush wait for the next interval: the flusher once flushed again at once
    whenever anything was pending, so it appended after every journal commit (hundreds a second while
    trading), with ArcticDB's cost and the storage thread's hops on each."""
    interval = 0.2
    async with Journal(tmp_path / "j.sqlite") as journal, ArcticStore(f"lmdb://{tmp_path}/arctic") as store:
        flusher = Flusher(journal, store, ACCOUNT, interval=interval)
        await flusher.recover()
        async with anyio.create_task_group() as tg:
            tg.start_soon(flusher.run)
            began = anyio.current_time()
            n = 0
            while anyio.current_time() - began < 1.0:  # a second of fills, each committed before the next
                await journal.record_fills([make_fill(n)])
                n += 1
            elapsed = anyio.current_time() - began
            await flusher.wait_flushed()
            tg.cancel_scope.cancel()
        folded = await FillsReader(store, ACCOUNT).folded()
    assert len(folded) == n  # every fill once
    assert n > 50, f"only {n} commits in a second: too few to tell batching apart"
    most = math.ceil(elapsed / interval) + 2  # one per interval, the one at the start and wait_flushed's
    assert flusher.appends <= most, f"{flusher.appends} appends of {n} fills in {elapsed:.2f} s"
