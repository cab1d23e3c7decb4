"""Snapshots of the books (issue #8): at start-up, after every reconciliation, hourly, at the daily reset
(the end-of-day snapshot) and at shutdown, each row tagged with its ``kind``. The schedule runs on a clock
the test supplies: nobody waits for 17:00 New York."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from live.conftest import FAST
from live.support import sim_settings, wait_for_event
from mats.engine import Engine
from mats.launch import live_engine
from mats.messages import CommissionCharged
from mats.model import Bar, StrategySpec
from mats.sim import SimServer
from mats.snapshots import PORTFOLIO, SnapshotKind, SnapshotSchedule, next_reset, strategy_symbol
from mats.storage import StoreComponent
from mats.store.arctic import ArcticStore
from mats.trading import LiveTrading

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


def test_the_next_reset_is_17_new_york_on_both_sides_of_a_dst_change() -> None:
    # 2026-03-08 02:00 New York springs forward: 17:00 is 22:00 UTC before and 21:00 UTC after.
    assert next_reset(ny(2026, 3, 7, 9, 0), time(17), "America/New_York") == (
        datetime(2026, 3, 7, 22, 0, tzinfo=UTC)
    )
    assert next_reset(ny(2026, 3, 7, 17, 0), time(17), "America/New_York") == (
        datetime(2026, 3, 8, 21, 0, tzinfo=UTC)
    )  # at the reset itself, the next one is tomorrow's


async def test_end_of_day_snapshot_is_taken_once_when_the_clock_crosses_the_reset() -> None:
    taken: list[SnapshotKind] = []

    async def take(kind: SnapshotKind) -> None:
        taken.append(kind)

    clock = ny(2026, 11, 23, 16, 30)
    schedule = SnapshotSchedule(take, reset="17:00", tz="America/New_York", now=lambda: clock)

    assert await schedule.tick(ny(2026, 11, 23, 16, 59, 59)) == []
    assert await schedule.tick(ny(2026, 11, 23, 17, 0)) == ["eod"]
    assert await schedule.tick(ny(2026, 11, 23, 17, 0, 30)) == []  # once per reset, not per tick
    assert await schedule.tick(ny(2026, 11, 23, 17, 30)) == ["hourly"]  # an hour after it started
    clock = ny(2026, 11, 24, 17, 0, 1)
    assert await schedule.tick() == ["eod", "hourly"]  # the injected clock, a day later
    assert taken == ["eod", "hourly", "eod", "hourly"]
    assert schedule.seconds_to_next(clock) == schedule.max_wait  # never sleeps past a clock change


async def test_a_restart_after_the_reset_takes_no_late_end_of_day_snapshot() -> None:
    taken: list[SnapshotKind] = []

    async def take(kind: SnapshotKind) -> None:
        taken.append(kind)

    restarted = ny(2026, 11, 23, 17, 5)
    schedule = SnapshotSchedule(take, reset="17:00", tz="America/New_York", now=lambda: restarted)
    assert await schedule.tick(ny(2026, 11, 23, 17, 10)) == []
    assert schedule.next_eod == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


async def run_engine_with_store(
    sim: SimServer, tmp_path: Path, specs: list[StrategySpec]
) -> tuple[Engine, LiveTrading, asyncio.Task[None]]:
    overrides = {"daily_pnl_reset": "16:30", "daily_pnl_tz": "Europe/London"}
    settings = sim_settings(sim.port, tmp_path, specs, overrides=overrides)
    store = StoreComponent(settings.resolved_arctic_uri, settings.storage.namespace)
    engine, trading = live_engine(settings, store=store, backoff=FAST)
    task = asyncio.create_task(engine.run(handle_signals=False))
    await asyncio.wait_for(engine.ready.wait(), 20)
    return engine, trading, task


@pytest.mark.timeout(60)
async def test_books_are_snapshotted_after_reconciling_at_the_configured_reset_and_at_shutdown(
    sim: SimServer, tmp_path: Path
) -> None:
    spec = StrategySpec("keeper", "strategies.pulse:Pulse", ["AAPL"], {"qty": 3, "every": 1}, autostart=True)
    sim.control.set_price("AAPL", 212.5)
    engine, trading, task = await run_engine_with_store(sim, tmp_path, [spec])
    try:
        assert trading.snapshots is not None
        reset = trading.snapshots.next_eod.astimezone(LONDON)
        assert (reset.hour, reset.minute) == (16, 30)  # the configured reset, not 17:00 New York
        charges = engine.bus.subscribe(types={"fill"})
        await trading.actors["keeper"].tell(Bar("AAPL", datetime.now(UTC), 212.5, 212.5, 212.5, 212.5))
        await wait_for_event(charges, lambda e: isinstance(e, CommissionCharged))

        await trading.reconcile("on demand")  # → a "reconcile" snapshot
        before = trading.snapshots.next_eod - timedelta(seconds=1)
        hourly = await trading.snapshots.tick(before)  # hours from now: an hourly one, if any
        assert "eod" not in hourly
        assert await trading.snapshots.tick(trading.snapshots.next_eod) == ["eod"]
    finally:
        engine.request_shutdown("test over")
        await asyncio.wait_for(task, 20)  # → a "shutdown" snapshot

    [execution] = sim.control.executions()
    async with ArcticStore(f"lmdb://{tmp_path}/arctic") as store:
        book = await store.read("DU0000001", PORTFOLIO)
        own = await store.read("DU0000001", strategy_symbol("keeper"))
    # Start-up found the books empty (no rows); then one row per snapshot of the 3 shares held.
    assert list(book["kind"]) == ["reconcile", *hourly, "eod", "shutdown"]
    eod = book[book["kind"] == "eod"].iloc[0]
    assert (eod["strategy_id"], eod["symbol"], eod["qty"], eod["avg_cost"]) == (
        "keeper",
        "AAPL",
        3,
        execution.execution.price,
    )
    assert list(own["kind"]) == ["reconcile", *hourly, "eod", "shutdown"]
    assert set(own["qty"]) == {3}
