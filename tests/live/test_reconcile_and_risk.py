"""Reconciliation, locks, risk limits and the kill switch against the simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mats.messages import CancelOrder, CommissionCharged, OrderFilled, PositionsReconciled, RiskRejected
from mats.model import DISCRETIONARY, Bar, OrderState, StrategySpec
from mats.sim import SimServer

from .support import wait_for_event
from .test_live_strategies import bar, run_engine, stop_engine


def pulse(sid: str, symbol: str, qty: float) -> StrategySpec:
    return StrategySpec(sid, "strategies.pulse:Pulse", [symbol], {"qty": qty, "every": 1}, autostart=True)


async def test_a_manual_trade_lands_in_discretionary_and_leaves_the_strategies_alone(
    sim: SimServer, tmp_path: Path
) -> None:
    engine, trading, task = await run_engine(
        sim, tmp_path, [pulse("one", "AAPL", 10), pulse("two", "AAPL", 4)]
    )
    events = engine.bus.subscribe(types={"fill", "reconciliation"})
    try:
        sim.control.set_price("AAPL", 150.0)
        for actor in trading.actors.values():
            await actor.tell(bar("AAPL", 0, 150.0))
        for _ in range(2):
            await wait_for_event(events, lambda e: isinstance(e, CommissionCharged))
        sim.control.set_price("AAPL", 151.0)
        sim.control.place_manual_order("AAPL", "BUY", 7)  # typed into TWS by hand
        manual = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
        rows = await trading.reconcile("test")
        reported = await wait_for_event(events, lambda e: isinstance(e, PositionsReconciled))
        assert trading.portfolio is not None
        positions = {p.strategy_id: p for p in trading.portfolio.positions()}
    finally:
        await stop_engine(engine, task)
    assert manual.fill.strategy_id == DISCRETIONARY
    assert (positions[DISCRETIONARY].qty, positions[DISCRETIONARY].avg_cost) == (7.0, 151.0)
    assert positions["one"].qty == 10 and positions["two"].qty == 4
    [row] = rows
    assert (row.ib_qty, row.attributed_qty, row.discretionary_qty, row.break_qty, row.locked) == (
        21,
        14,
        7,
        0,
        False,
    )
    assert reported.rows == [msgspec.to_builtins(row)]


async def test_risk_limits_reject_the_right_order_with_its_reason(sim: SimServer, tmp_path: Path) -> None:
    engine, trading, task = await run_engine(sim, tmp_path, [pulse("big", "AAPL", 10)])
    events = engine.bus.subscribe(types={"risk"})
    try:
        engine.settings = msgspec.structs.replace(
            engine.settings,
            risk=msgspec.structs.replace(engine.settings.risk, max_order_qty=100, max_order_notional=5000),
        )
        strategy = trading.actors["big"].strategy
        assert strategy is not None
        too_many = strategy.place_order("AAPL", 500, limit_price=1.0)
        await too_many
        too_dear = strategy.place_order("AAPL", 50, limit_price=200.0)
        await too_dear
        fine = strategy.place_order("AAPL", 5, limit_price=1.0)
        await fine
        rejected = [await wait_for_event(events, lambda e: isinstance(e, RiskRejected)) for _ in range(2)]
    finally:
        await stop_engine(engine, task)
    assert too_many.status is OrderState.REJECTED and "exceeds risk.max_order_qty 100" in too_many.reason
    assert too_dear.status is OrderState.REJECTED and "order notional 10,000.00" in too_dear.reason
    assert fine.status is not OrderState.REJECTED
    assert [r.reason for r in rejected] == [too_many.reason, too_dear.reason]
    assert len(sim.control.orders()) == 1  # only the order within limits reached the simulator


async def test_a_strategy_awaiting_its_own_refused_order_is_told_at_once_and_keeps_trading(
    sim: SimServer, tmp_path: Path
) -> None:
    """Found by a soak: Pulse awaits ``place_order`` inside its bar handler. A refusal reached the handle
    only through the strategy's own mailbox, behind the handler waiting for it, so the strategy hung for
    good and its bars piled up."""
    engine, trading, task = await run_engine(sim, tmp_path, [pulse("big", "AAPL", 500)])
    events = engine.bus.subscribe(types={"risk"})
    try:
        engine.settings = msgspec.structs.replace(
            engine.settings, risk=msgspec.structs.replace(engine.settings.risk, max_order_qty=100)
        )
        actor = trading.actors["big"]
        handled = actor.metrics.handled
        for i in range(3):
            await actor.tell(bar("AAPL", i, 100.0))  # Pulse (every bar) places 500 and awaits it
        refusals = [await wait_for_event(events, lambda e: isinstance(e, RiskRejected)) for _ in range(3)]
        async with asyncio.timeout(10):
            while actor.metrics.handled < handled + 3 or actor.mailbox.data_depth:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        await stop_engine(engine, task)
    assert all("exceeds risk.max_order_qty 100" in r.reason for r in refusals)
    assert sim.control.orders() == []


async def test_a_strategy_awaiting_its_own_fill_inside_its_handler_gets_it(
    sim: SimServer, tmp_path: Path
) -> None:
    """``await handle.filled()`` in ``run_strategy`` (docs/strategies.md): the order's last status must reach
    the handle without waiting in the mailbox of the strategy that is waiting for it."""
    engine, trading, task = await run_engine(sim, tmp_path, [pulse("waits", "AAPL", 3)])
    try:
        sim.control.set_price("AAPL", 100.0)
        actor = trading.actors["waits"]
        strategy = actor.strategy
        assert strategy is not None
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def buy_and_wait(bar: Bar) -> None:
            handle = await strategy.place_order(bar.symbol, 3)
            done.set_result(await handle.filled())

        strategy.run_strategy = buy_and_wait  # type: ignore[method-assign]
        await actor.tell(bar("AAPL", 0, 100.0))
        handle = await asyncio.wait_for(done, 10)
    finally:
        await stop_engine(engine, task)
    assert handle.status is OrderState.FILLED and handle.filled_qty == 3


async def test_kill_switch_clears_the_book_of_every_mats_order_and_refuses_new_ones(
    sim: SimServer, tmp_path: Path
) -> None:
    specs = [pulse("a", "AAPL", 1), pulse("b", "MSFT", 1), pulse("c", "SPY", 1)]
    engine, trading, task = await run_engine(sim, tmp_path, specs)
    orders = engine.bus.subscribe(types={"order"})
    try:
        strategy_a = trading.actors["a"].strategy
        for sid, symbol in (("a", "AAPL"), ("b", "MSFT"), ("c", "SPY")):
            sim.control.set_price(symbol, 100.0)
            strategy = trading.actors[sid].strategy
            assert strategy is not None
            await strategy.place_order(symbol, 1, limit_price=50.0)  # resting, far below the market
        assert len(sim.control.open_orders()) == 3
        await trading.stop_strategy("c", "operator")  # its client goes away; its order keeps resting
        await asyncio.wait_for(sim.control.wait_disconnected(trading.client_ids["c"]), 5)
        assert len(sim.control.open_orders()) == 3
        loop = asyncio.get_running_loop()
        engaged_at = loop.time()
        await trading.kill_switch(reason="test")
        cancelled: set[str] = set()
        while len(cancelled) < 3:  # one Cancelled per order, the stopped strategy's included
            event = await wait_for_event(
                orders, lambda e: e.status.state is OrderState.CANCELLED, timeout=1.0
            )
            cancelled.add(event.status.order_ref)
        cleared_in = loop.time() - engaged_at
        assert sim.control.open_orders() == []
        assert not trading.actors  # strategies stopped
        assert strategy_a is not None
        late = strategy_a.place_order("AAPL", 1, limit_price=50.0)  # a strategy object still holding on
        await late
    finally:
        await stop_engine(engine, task)
    assert cleared_in < 1.0
    assert late.status is OrderState.REJECTED and "kill switch engaged (test)" in late.reason
    assert len(sim.control.orders()) == 3  # nothing new reached the simulator


async def test_after_a_restart_open_orders_are_rebuilt_and_can_still_be_cancelled(
    sim: SimServer, tmp_path: Path
) -> None:
    engine, trading, task = await run_engine(sim, tmp_path, [pulse("rester", "AAPL", 1)])
    try:
        sim.control.set_price("AAPL", 100.0)
        strategy = trading.actors["rester"].strategy
        assert strategy is not None
        resting = strategy.place_order("AAPL", 2, limit_price=90.0)
        await resting
        done = strategy.place_order("AAPL", 1)
        await done.filled()
        ref = resting.order_ref
    finally:
        await stop_engine(engine, task)  # the resting order keeps working at IB meanwhile

    no_autostart = [msgspec.structs.replace(pulse("rester", "AAPL", 1), autostart=False)]
    engine, trading, task = await run_engine(sim, tmp_path, no_autostart)
    orders = engine.bus.subscribe(types={"order"})
    try:
        trades = trading.trades
        assert trades is not None
        record = trades.orders[ref]
        assert (
            record.status.state in (OrderState.SUBMITTED, OrderState.PENDING)
            and record.request.con_id == 265598
        )
        assert trades.orders[done.order_ref].status.state is OrderState.FILLED
        assert (
            trading.portfolio is not None and trading.portfolio.position("rester", 265598).qty == 1
        )  # replayed
        reply = await trades.ask(CancelOrder(order_ref=ref))  # reconnects under the strategy's old clientId
        assert reply.accepted, reply.status.reason
        await wait_for_event(
            orders, lambda e: e.status.order_ref == ref and e.status.state is OrderState.CANCELLED
        )
    finally:
        await stop_engine(engine, task)
    assert sim.control.open_orders() == []
    assert len(sim.control.orders()) == 2  # nothing was sent twice


async def test_a_split_breaks_and_locks_the_contract_until_an_operator_books_it(
    sim: SimServer, tmp_path: Path
) -> None:
    engine, trading, task = await run_engine(sim, tmp_path, [pulse("holder", "AAPL", 10)])
    events = engine.bus.subscribe(types={"fill", "alert", "position"})
    try:
        sim.control.set_price("AAPL", 200.0)
        await trading.actors["holder"].tell(bar("AAPL", 0, 200.0))
        await wait_for_event(events, lambda e: isinstance(e, CommissionCharged))
        sim.control.faults.split("AAPL", 2.0)  # IB now reports 20 shares; no execution explains 10 of them
        engine_ib = engine.hub.engine.ib  # type: ignore[union-attr]
        async with asyncio.timeout(5):
            while sum(p.position for p in engine_ib.positions()) != 20:
                await engine_ib.updateEvent
        [row] = await trading.reconcile("after split")
        lock = await wait_for_event(events, lambda e: getattr(e, "kind", "") == "lock")
        assert (row.ib_qty, row.attributed_qty, row.break_qty, row.locked) == (20, 10, 10, True)
        strategy = trading.actors["holder"].strategy
        assert strategy is not None
        refused = strategy.place_order("AAPL", 1, limit_price=50.0)
        await refused
        assert refused.status is OrderState.REJECTED and "AAPL (265598) is locked" in refused.reason
        assert "break +10" in lock.message

        booking, rows = await trading.book(
            con_id=265598, strategy_id="holder", qty=10, price=0.0, reason="2:1 split", by="test"
        )
        [after] = rows
        assert (after.attributed_qty, after.break_qty, after.locked) == (20, 0, False)
        accepted = strategy.place_order("AAPL", 1, limit_price=50.0)
        await accepted
        assert accepted.status is not OrderState.REJECTED
        assert trading.journal is not None
        assert [b.reason for b in await trading.journal.current_bookings()] == ["2:1 split"]
        assert trading.portfolio is not None
        position = trading.portfolio.position("holder", 265598)
    finally:
        await stop_engine(engine, task)
    assert position is not None and position.qty == 20 and position.avg_cost == pytest.approx(100.0)
    assert booking.by == "test" and booking.qty == 10


async def test_a_eur_stock_in_a_usd_account_is_valued_in_dollars_as_by_hand(
    sim: SimServer, tmp_path: Path
) -> None:
    sap = {"symbol": "SAP", "sec_type": "STK", "exchange": "IBIS", "currency": "EUR"}
    spec = StrategySpec("europe", "strategies.pulse:Pulse", [sap], {"qty": 10, "every": 1}, autostart=True)
    sim.control.set_price("EUR.USD", 1.10)
    sim.control.set_price("SAP", 120.0)
    engine, trading, task = await run_engine(sim, tmp_path, [spec])
    events = engine.bus.subscribe(types={"fill"})
    try:
        actor = trading.actors["europe"]
        [instrument] = actor.instruments
        assert instrument.currency == "EUR"
        await actor.tell(bar(instrument.key, 0, 120.0))
        await wait_for_event(events, lambda e: isinstance(e, CommissionCharged))
        sim.control.set_price("SAP", 125.0)
        sim.control.set_price("EUR.USD", 1.10)  # a fresh quote for the FX cache
        assert trading.fx is not None
        engine_ib = engine.hub.engine.ib  # type: ignore[union-attr]
        async with asyncio.timeout(10):
            while True:
                try:
                    rate = trading.valuation.to_base("EUR")
                    prices = {i.contract.conId: i.marketPrice for i in engine_ib.portfolio()}
                    if prices.get(instrument.con_id) == 125.0:
                        break
                except LookupError:
                    pass
                await engine_ib.updateEvent  # each message the engine's client processes
        pnl = trading.valuation.strategy_pnl()["europe"]
        [execution] = sim.control.executions()
    finally:
        await stop_engine(engine, task)
    assert rate == pytest.approx(1.10)
    bought = execution.execution.price
    commission_usd = execution.commission.commission * (
        1.10 if execution.commission.currency == "EUR" else 1.0
    )
    by_hand = 10 * (125.0 - bought) * 1.10 - commission_usd
    assert pnl == pytest.approx(by_hand, abs=0.01)
