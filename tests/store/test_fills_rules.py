"""Fills through journal → flusher → ArcticDB: repeats, corrections and late commissions fold correctly."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pytest
from fillgen import make_fill

from mats.model import CommissionReport, ExecId, OrderRef, OrderState, OrderStatus, StrategyId
from mats.store import (
    ArcticStore,
    Durability,
    FillRecorded,
    FillsReader,
    Flusher,
    Journal,
    JournalError,
    fold_fills,
)

ACCOUNT = "DU0000001"


@dataclass
class Rig:
    journal: Journal
    store: ArcticStore
    flusher: Flusher
    reader: FillsReader


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    journal = await Journal(tmp_path / "journal.sqlite").open()
    store = await ArcticStore(f"lmdb://{tmp_path}/arctic", namespace="eng1").open()
    flusher = Flusher(journal, store, ACCOUNT, interval=0.01)
    await flusher.recover()
    task = asyncio.create_task(flusher.run())
    try:
        yield Rig(journal, store, flusher, FillsReader(store, ACCOUNT))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await journal.close()
        await store.close()


async def test_the_same_fill_journaled_twice_is_stored_once(rig: Rig) -> None:
    first = await rig.journal.record_fill(make_fill(1))
    again = await rig.journal.record_fill(make_fill(1))
    assert first is not None and first.kind == "fill"
    assert again is None
    await rig.flusher.wait_flushed(timeout=10)

    raw = await rig.store.read(ACCOUNT, "fills")
    assert raw["exec_id"].tolist() == ["0000e0d5.00000001.01"]
    folded = await rig.reader.folded()
    assert len(folded) == 1
    row = folded.iloc[0]
    assert (row["qty"], row["price"], row["strategy_id"], row["side"]) == (10.0, 190.0, "sma_aapl", "BUY")


async def test_a_correction_supersedes_its_original_and_an_older_revision_is_ignored(rig: Rig) -> None:
    await rig.journal.record_fill(make_fill(7, revision=1, price=190.00))
    await rig.journal.record_fill(make_fill(8, revision=1, price=191.00))
    correction = await rig.journal.record_fill(make_fill(7, revision=2, price=189.50, qty=8))
    stale = await rig.journal.record_fill(make_fill(7, revision=1, price=190.00))
    assert correction is not None and correction.kind == "correction"
    assert stale is None
    await rig.flusher.wait_flushed(timeout=10)

    raw = await rig.store.read(ACCOUNT, "fills")
    assert raw["kind"].tolist() == ["fill", "fill", "correction"]
    folded = (await rig.reader.folded()).set_index("base_exec_id")
    assert folded.loc["0000e0d5.00000007", ["exec_id", "price", "qty"]].tolist() == [
        "0000e0d5.00000007.02",
        189.5,
        8,
    ]
    assert folded.loc["0000e0d5.00000008", "price"] == 191.0
    assert len(folded) == 2


async def test_a_commission_arriving_after_the_fill_was_flushed_ends_up_on_the_folded_row(rig: Rig) -> None:
    await rig.journal.record_fill(make_fill(3, price=190.25))
    await rig.flusher.wait_flushed(timeout=10)
    before = await rig.reader.folded()
    assert math.isnan(before.iloc[0]["commission"])

    report = CommissionReport(exec_id=ExecId("0000e0d5.00000003.01"), commission=1.05, realized_pnl=12.5)
    assert await rig.journal.record_commission(report) is not None
    assert await rig.journal.record_commission(report) is None  # the same report again is ignored
    await rig.flusher.wait_flushed(timeout=10)

    raw = await rig.store.read(ACCOUNT, "fills")
    assert raw["kind"].tolist() == ["fill", "commission"]
    after = await rig.reader.folded()
    assert len(after) == 1
    assert (after.iloc[0]["commission"], after.iloc[0]["realized_pnl"], after.iloc[0]["price"]) == (
        1.05,
        12.5,
        190.25,
    )
    # the incremental view and a fold of the whole table agree
    pd.testing.assert_frame_equal(fold_fills(raw), after)


async def test_a_commission_arriving_before_its_fill_is_joined_when_the_fill_comes(rig: Rig) -> None:
    await rig.journal.record_commission(
        CommissionReport(exec_id=ExecId("0000e0d5.00000004.01"), commission=0.35)
    )
    await rig.flusher.wait_flushed(timeout=10)
    assert len(await rig.reader.folded()) == 0
    await rig.journal.record_fill(make_fill(4))
    await rig.flusher.wait_flushed(timeout=10)
    folded = await rig.reader.folded()
    assert folded["commission"].tolist() == [0.35]
    replay = await rig.journal.current_fills()
    assert [(f.exec_id, f.commission) for f in replay] == [("0000e0d5.00000004.01", 0.35)]


async def test_order_events_are_keyed_by_order_ref_and_repeats_are_ignored(rig: Rig) -> None:
    ref = OrderRef("mats:sma_aapl:01JCORDER00000001")

    def status(state: OrderState, filled: float) -> OrderStatus:
        return OrderStatus(
            order_ref=ref,
            strategy_id=StrategyId("sma_aapl"),
            symbol="AAPL",
            state=state,
            qty=10,
            filled=filled,
            remaining=10 - filled,
            perm_id=900_001,
        )

    assert await rig.journal.record_order_event(status(OrderState.SUBMITTED, 0)) is not None
    assert await rig.journal.record_order_event(status(OrderState.SUBMITTED, 0)) is None
    assert await rig.journal.record_order_event(status(OrderState.FILLED, 10)) is not None
    await rig.flusher.wait_flushed(timeout=10)
    orders = await rig.store.read(ACCOUNT, "orders")
    assert orders["status"].tolist() == ["Submitted", "Filled"]
    assert orders["client_order_id"].tolist() == ["01JCORDER00000001"] * 2
    assert orders["filled"].tolist() == [0.0, 10.0]
    latest = await rig.journal.current_orders()
    assert [(o.order_ref, o.state, o.filled) for o in latest] == [(ref, OrderState.FILLED, 10.0)]
    meta = await rig.store.read_metadata(ACCOUNT, "orders")
    assert meta["last_seq"] == int(orders["seq"].iloc[-1])


async def test_reopened_journal_continues_its_sequence_and_replays_current_fills(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite") as journal:
        await journal.record_fills([make_fill(1), make_fill(2), make_fill(1, revision=2, price=188.0)])
        first_id = journal.journal_id
    async with Journal(tmp_path / "j.sqlite", durability=Durability.FULL) as journal:
        assert journal.journal_id == first_id
        assert journal.committed_seq == 3
        nxt = await journal.record_fill(make_fill(3))
        assert nxt is not None and nxt.seq == 4
        assert await journal.record_fill(make_fill(2)) is None  # dedup survives the restart
        replay = await journal.current_fills()
    assert [(f.exec_id, f.price) for f in replay] == [
        ("0000e0d5.00000002.01", 190.0),
        ("0000e0d5.00000001.02", 188.0),
        ("0000e0d5.00000003.01", 190.0),
    ]


async def test_a_second_journal_on_the_same_file_is_refused(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite"):
        with pytest.raises(JournalError, match="already open"):
            await Journal(tmp_path / "j.sqlite").open()


async def test_concurrent_acknowledgements_share_group_commits_in_full_durability(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite", durability=Durability.FULL) as journal:
        results = await asyncio.gather(*(journal.record_fill(make_fill(i)) for i in range(1, 501)))
        seqs = [r.seq for r in results if r is not None]
        assert sorted(seqs) == list(range(1, 501))
        times = [r.recorded_at for r in sorted((r for r in results if r is not None), key=lambda r: r.seq)]
        assert all(b > a for a, b in itertools.pairwise(times))
        assert journal.commits < 100, f"{journal.commits} commits for 500 concurrent fills: no grouping"


async def test_fills_are_acknowledged_while_a_long_arctic_write_is_running(tmp_path: Path) -> None:
    n = 1_000_000
    frame = pd.DataFrame(
        {f"c{i}": np.random.default_rng(i).random(n) for i in range(5)},
        index=pd.date_range("2020-01-01", periods=n, freq="s", tz="UTC"),
    )
    async with Journal(tmp_path / "j.sqlite") as journal, ArcticStore(f"lmdb://{tmp_path}/arctic") as store:
        await store.write("market_data", "warmup", frame.iloc[:10])
        write = asyncio.create_task(store.write("market_data", "BIG_1s", frame))
        acks: list[float] = []
        i = 0
        await asyncio.sleep(0)  # let the write reach its thread
        while not write.done():
            i += 1
            assert await journal.record_fill(make_fill(i)) is not None
            acks.append(asyncio.get_running_loop().time())
        await write
        # the write held the ArcticDB thread the whole time; the journal, on its own thread, kept committing
        assert len(acks) >= 10, f"only {len(acks)} fills were acknowledged during a 1M-row ArcticDB write"


async def test_a_malformed_fill_is_refused_alone_and_its_group_still_commits(tmp_path: Path) -> None:
    bad = msgspec.structs.replace(make_fill(2), exec_time=None)
    async with Journal(tmp_path / "j.sqlite") as journal:
        results = await asyncio.gather(
            journal.record_fill(make_fill(1)),
            journal.record_fill(bad),
            journal.record_fill(make_fill(3)),
            return_exceptions=True,
        )
        assert isinstance(results[1], Exception)
        assert [r.exec_id for r in results if isinstance(r, FillRecorded)] == [
            "0000e0d5.00000001.01",
            "0000e0d5.00000003.01",
        ]
        assert await journal.record_fill(make_fill(2)) is not None  # the refused one left no trace
        assert [f.exec_id for f in await journal.current_fills()] == [
            "0000e0d5.00000001.01",
            "0000e0d5.00000003.01",
            "0000e0d5.00000002.01",
        ]


async def test_a_backlog_of_max_rows_is_flushed_without_waiting_for_the_interval(tmp_path: Path) -> None:
    flushed = asyncio.Event()
    async with Journal(tmp_path / "j.sqlite") as journal, ArcticStore(f"lmdb://{tmp_path}/arctic") as store:
        flusher = Flusher(journal, store, ACCOUNT, max_rows=50, interval=3600)
        flusher.add_listener(lambda symbol, rows: flushed.set() if symbol == "fills" else None)
        await flusher.recover()
        await flusher.flush_once()  # nothing yet; from now on only a full batch wakes it
        task = asyncio.create_task(flusher.run())
        try:
            await journal.record_fills([make_fill(i) for i in range(1, 61)])
            await asyncio.wait_for(flushed.wait(), timeout=10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert len(await store.read(ACCOUNT, "fills")) >= 50
