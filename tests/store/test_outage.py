"""Storage outages: fills keep being acknowledged, degraded is reported, the backlog flushes when storage
returns."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pandas as pd
from fillgen import make_fill

from conftest import MotoServer
from mats.model import CommissionReport, ExecId
from mats.store import ArcticStore, FillsReader, Flusher, Journal

ACCOUNT = "DU0000001"


class FlakyStore(ArcticStore):
    """A real LMDB store whose appends fail while ``down`` is set (and once more after landing, if asked)."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.down = False
        self.fail_after_landing = False

    async def append(self, library: str, symbol: str, data: pd.DataFrame, metadata: Any = None) -> int:
        if self.down:
            raise ConnectionError("storage unreachable (test)")
        version = await super().append(library, symbol, data, metadata)
        if (
            self.fail_after_landing
        ):  # the write landed but the caller hears an error: it must not append twice
            self.fail_after_landing = False
            raise TimeoutError("storage answered too late (test)")
        return version


async def test_fills_are_acknowledged_through_an_outage_and_the_backlog_flushes_once(tmp_path: Path) -> None:
    events: list[bool] = []
    went_down = asyncio.Event()

    def on_degraded(degraded: bool, reason: str) -> None:
        events.append(degraded)
        if degraded:
            went_down.set()

    async with Journal(tmp_path / "j.sqlite") as journal, FlakyStore(f"lmdb://{tmp_path}/arctic") as store:
        flusher = Flusher(
            journal,
            store,
            ACCOUNT,
            interval=0.01,
            backoff=(0.01, 0.05),
            on_degraded=on_degraded,
        )
        await flusher.recover()
        task = asyncio.create_task(flusher.run())
        try:
            await journal.record_fills([make_fill(i) for i in range(1, 11)])
            await flusher.wait_flushed(timeout=10)

            store.down = True
            for i in range(11, 61):
                assert await journal.record_fill(make_fill(i)) is not None
            await journal.record_commission(
                CommissionReport(exec_id=ExecId(make_fill(3).exec_id), commission=1.0)
            )
            await asyncio.wait_for(went_down.wait(), timeout=10)
            assert "storage unreachable" in flusher.degraded_reason

            store.down = False
            store.fail_after_landing = True
            await flusher.wait_flushed(timeout=10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert events[:2] == [True, False] and not flusher.degraded
        raw = await store.read(ACCOUNT, "fills")
        assert raw["seq"].is_unique and len(raw) == 61
        folded = await FillsReader(store, ACCOUNT).folded()
        assert len(folded) == 60
        assert folded.set_index("base_exec_id").loc["0000e0d5.00000003", "commission"] == 1.0


async def test_moto_stopped_mid_stream_fills_keep_being_acknowledged(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    uri = moto_server.uri(moto_server.new_bucket())
    degraded_at: list[tuple[bool, float]] = []
    went_down = asyncio.Event()

    def on_degraded(degraded: bool, reason: str) -> None:
        degraded_at.append((degraded, time.monotonic()))
        if degraded:
            went_down.set()

    async with Journal(tmp_path / "j.sqlite") as journal, ArcticStore(uri) as store:
        flusher = Flusher(
            journal,
            store,
            ACCOUNT,
            interval=0.02,
            stall_after=0.3,
            on_degraded=on_degraded,
        )
        await flusher.recover()
        task = asyncio.create_task(flusher.run())
        try:
            for i in range(1, 21):
                await journal.record_fill(make_fill(i))
            await flusher.wait_flushed(timeout=20)

            moto_server.pause()
            try:
                worst_ack = 0.0
                for i in range(21, 221):
                    started = time.perf_counter()
                    assert await journal.record_fill(make_fill(i)) is not None
                    worst_ack = max(worst_ack, time.perf_counter() - started)
                    if i % 20 == 0:
                        await asyncio.sleep(0.05)  # fills trickle in while storage is down
                await asyncio.wait_for(went_down.wait(), timeout=10)
                assert worst_ack < 0.1, f"a fill waited {worst_ack * 1e3:.0f} ms for its acknowledgement"
            finally:
                moto_server.resume()
            await flusher.wait_flushed(timeout=60)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert [d for d, _ in degraded_at][:2] == [True, False]
        assert not flusher.degraded
        folded = await FillsReader(store, ACCOUNT).folded()
        assert folded["exec_id"].tolist() == [make_fill(i).exec_id for i in range(1, 221)]
        assert folded["price"].tolist() == [190.0] * 220
