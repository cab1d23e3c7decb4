"""The simulator's memory stays bounded however long it runs: finished orders, executions and the tape."""

from __future__ import annotations

import datetime as dt

import pytest
from ib_async import MarketOrder, Stock

from mats.sim import SimServer
from mats.sim import exchange as exchange_module
from mats.sim import tape as tape_module
from mats.sim.tape import Tape

from .conftest import Connect
from .test_orders import done, qualified

NEW_YORK = exchange_module.EXECUTION_DAY_ZONE


def seconds_to_next_new_york_midnight(now: dt.datetime) -> float:
    local = now.astimezone(NEW_YORK)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=NEW_YORK)
    return (midnight - local).total_seconds()


async def test_simulator_keeps_the_newest_finished_orders_and_answers_reqexecutions_for_the_day(
    sim: SimServer, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange_module, "KEEP_FINISHED_ORDERS", 3)
    ib = await connect(7)
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    trades = [ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef=f"mats:bound:{i}")) for i in range(5)]
    for trade in trades:
        await done(trade)

    completed = await ib.reqCompletedOrdersAsync(apiOnly=True)
    assert sorted(t.order.orderRef for t in completed) == ["mats:bound:2", "mats:bound:3", "mats:bound:4"]
    assert len(sim.exchange.orders()) == 3  # the two oldest finished orders are gone from memory
    today = await ib.reqExecutionsAsync()
    assert len(today) == 5  # but the day's executions are all still answered
    assert {f.execution.execId for f in today} == {t.fills[0].execution.execId for t in trades}

    sim.control.advance(seconds_to_next_new_york_midnight(sim.control.now()) + 60)
    next_day = ib.placeOrder(aapl, MarketOrder("SELL", 10, orderRef="mats:bound:next-day"))
    await done(next_day)

    (only,) = await ib.reqExecutionsAsync()  # yesterday's executions rolled off at midnight New York
    assert only.execution.execId == next_day.fills[0].execution.execId
    assert sim.control.positions()["AAPL"].qty == 40  # the account kept every fill


async def test_tape_folds_old_prints_into_minutes_and_drops_what_is_past_the_kept_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tape_module, "FINE_KEEP_SECONDS", 600)
    monkeypatch.setattr(tape_module, "KEEP_SECONDS", 3600)
    start = 1_700_000_000 - 1_700_000_000 % 60
    tape = Tape(con_id=1, start=start, price=100.0, tick=0.01, seed=1)
    for second in range(0, 3 * 3600, 5):  # three hours of prints, one per 5-second bar
        tape.record(start + second, 100.0 + (second % 60) / 100, 10.0)
    now = start + 3 * 3600

    # an hour kept: 10 (to 11) minutes of 5-second pieces, the rest of the hour as 1-minute pieces
    minutes = [k for k in tape._keys if k < tape._fine_from]
    assert len(minutes) <= 51 and all(k % 60 == 0 for k in minutes)
    assert len(tape._keys) - len(minutes) <= 660 // 5
    assert tape._keys[0] >= now - 3600 - 60
    recent = tape.bars(now - 300, now, 5, now)
    assert [b.close for b in recent[:12]] == [100.0 + s / 100 for s in range(0, 60, 5)]
    (minute,) = tape.bars(now - 1800, now - 1740, 60, now)  # folded: the minute keeps its range
    assert (minute.open, minute.high, minute.low, minute.close) == (100.0, 100.55, 100.0, 100.55)
    assert minute.volume == 120.0
    (old,) = tape.bars(now - 2 * 3600, now - 2 * 3600 + 60, 60, now)  # dropped: flat at the last dropped
    assert old.open == old.close == 100.55 and old.volume == 0
