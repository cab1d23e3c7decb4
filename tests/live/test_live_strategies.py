"""Strategies as actors, live against the simulator: orders out through their own clients, every fill
recorded once and attributed, a raising strategy stopped while the others keep trading."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from live.support import sim_settings
from mats.actors import Subscription
from mats.engine import Engine
from mats.launch import live_engine
from mats.messages import CommissionCharged, OrderFilled, PositionChanged, StrategyStatusChanged
from mats.model import Bar, StrategySpec
from mats.sim import SimServer
from mats.trading import LiveTrading

from .conftest import FAST, wait_for_event
from .support import stopped_sim

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def bar(symbol: str, i: int, price: float) -> Bar:
    return Bar(symbol=symbol, time=T0 + timedelta(minutes=i), open=price, high=price, low=price, close=price)


async def run_engine(
    sim: SimServer, tmp_path: Path, specs: list[StrategySpec]
) -> tuple[Engine, LiveTrading, asyncio.Task[None]]:
    engine, trading = live_engine(sim_settings(sim.port, tmp_path, specs), backoff=FAST)
    task = asyncio.create_task(engine.run(handle_signals=False))
    await asyncio.wait_for(engine.ready.wait(), 20)
    return engine, trading, task


async def stop_engine(engine: Engine, task: asyncio.Task[None]) -> None:
    engine.request_shutdown("test over")
    await asyncio.wait_for(task, 20)


async def fills(sub: Subscription, n: int) -> list[OrderFilled]:
    return [await wait_for_event(sub, lambda e: isinstance(e, OrderFilled)) for _ in range(n)]


async def open_both_then_close_the_long_one(engine: Engine, trading: LiveTrading, sim: SimServer) -> None:
    """ "longer" (Pulse, +10) and "shorter" (Pulse, -4) open on AAPL at 101; "longer" closes at 103.5.
    Returns once the three fills are booked with their commissions."""
    events = engine.bus.subscribe(types={"fill", "position"})
    charges = engine.bus.subscribe(types={"fill"})
    sim.control.set_price("AAPL", 101.0)
    for actor in trading.actors.values():
        await actor.tell(bar("AAPL", 0, 101.0))  # both open
    await fills(events, 2)
    sim.control.set_price("AAPL", 103.5)
    await trading.actors["longer"].tell(bar("AAPL", 1, 103.5))  # the long one closes
    await wait_for_event(
        events,
        lambda e: (
            isinstance(e, PositionChanged) and e.position.strategy_id == "longer" and e.position.qty == 0
        ),
    )
    for _ in range(3):  # commissions come separately, after their fills
        await wait_for_event(charges, lambda e: isinstance(e, CommissionCharged))


async def test_two_strategies_trading_one_symbol_in_opposite_directions_are_attributed_exactly(
    sim: SimServer, tmp_path: Path
) -> None:
    specs = [
        StrategySpec(
            "longer",
            "strategies.pulse:Pulse",
            ["AAPL"],
            {"qty": 10, "every": 1, "direction": 1},
            autostart=True,
        ),
        StrategySpec(
            "shorter",
            "strategies.pulse:Pulse",
            ["AAPL"],
            {"qty": 4, "every": 1, "direction": -1},
            autostart=True,
        ),
    ]
    engine, trading, task = await run_engine(sim, tmp_path, specs)
    try:
        assert set(trading.actors) == {"longer", "shorter"}
        await open_both_then_close_the_long_one(engine, trading, sim)
        portfolio = trading.portfolio
        assert portfolio is not None
        longer = portfolio.position("longer", 265598)
        shorter = portfolio.position("shorter", 265598)
        commissions = portfolio.commissions_by_strategy()
    finally:
        await stop_engine(engine, task)

    executed = sim.control.executions()
    by_strategy: dict[str, list] = {}
    for f in executed:
        by_strategy.setdefault(f.execution.order_ref.split(":")[1], []).append(f)
    assert longer is not None and shorter is not None
    assert (longer.qty, longer.realized_pnl) == (0.0, pytest.approx(10 * (103.5 - 101.0)))
    assert (shorter.qty, shorter.avg_cost) == (-4.0, 101.0)
    assert shorter.qty + longer.qty == float(sim.control.positions()["AAPL"].qty)
    for sid in ("longer", "shorter"):
        assert commissions.get(sid, 0.0) == pytest.approx(
            sum(f.commission.commission for f in by_strategy[sid])
        )
    clients = {f.execution.client_id for f in executed}
    assert len(clients) == 2 and not clients & {0, 99}  # each strategy through its own client


async def test_a_strategy_that_raises_is_stopped_and_reported_while_the_other_keeps_trading(
    sim: SimServer, tmp_path: Path
) -> None:
    specs = [
        StrategySpec(
            "broken",
            "strategies.pulse:Pulse",
            ["AAPL"],
            {"qty": 1, "every": 1, "direction": 1},
            autostart=True,
        ),
        StrategySpec(
            "steady",
            "strategies.pulse:Pulse",
            ["MSFT"],
            {"qty": 2, "every": 1, "direction": 1},
            autostart=True,
        ),
    ]
    engine, trading, task = await run_engine(sim, tmp_path, specs)
    events = engine.bus.subscribe(types={"fill", "strategy"})
    try:
        broken = trading.actors["broken"]
        broken.strategy.run_strategy = _explode  # type: ignore[union-attr,method-assign]
        await broken.tell(bar("AAPL", 0, 100.0))
        stopped = await wait_for_event(
            events,
            lambda e: (
                isinstance(e, StrategyStatusChanged) and e.strategy_id == "broken" and e.status == "failed"
            ),
        )
        assert "indicator blew up" in stopped.reason
        sim.control.set_price("MSFT", 300.0)
        await trading.actors["steady"].tell(bar("MSFT", 0, 300.0))
        filled = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
    finally:
        await stop_engine(engine, task)
    assert filled.fill.strategy_id == "steady" and filled.fill.qty == 2
    assert trading.status["broken"][0] == "failed"


async def _explode(bar: Bar) -> None:
    raise ZeroDivisionError("indicator blew up")


async def test_a_fill_reaches_the_journal_after_its_strategy_stopped_and_its_client_is_gone(
    sim: SimServer, tmp_path: Path
) -> None:
    from mats.model import OrderState

    specs = [
        StrategySpec("resting", "strategies.pulse:Pulse", ["AAPL"], {"qty": 5, "every": 1}, autostart=True)
    ]
    engine, trading, task = await run_engine(sim, tmp_path, specs)
    events = engine.bus.subscribe(types={"fill", "connection"})
    try:
        sim.control.set_price("AAPL", 100.0)
        actor = trading.actors["resting"]
        assert actor.strategy is not None and trading.broker is not None
        handle = actor.strategy.place_order("AAPL", 5, limit_price=95.0)  # rests below the market
        await handle
        assert handle.status in (OrderState.PENDING, OrderState.SUBMITTED)
        await trading.stop_strategy("resting", "operator stop")
        gone = await wait_for_event(
            events, lambda e: getattr(e, "client_id", None) == 1 and getattr(e, "connected", True) is False
        )
        assert gone.detail == "closed by MATS"
        await asyncio.wait_for(sim.control.wait_disconnected(1), 5)
        assert 1 not in sim.control.connected_client_ids()
        sim.control.set_price("AAPL", 94.0)  # the resting order fills with nobody of its own listening
        filled = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
        assert trading.journal is not None
        journaled = await trading.journal.current_fills()
    finally:
        await stop_engine(engine, task)
    assert filled.fill.strategy_id == "resting" and filled.fill.qty == 5
    assert [f.exec_id for f in journaled] == [filled.fill.exec_id]
    assert trading.status["resting"][0] == "stopped"


async def test_forty_strategies_on_a_32_client_gateway_share_clients_and_stay_attributed(
    sim: SimServer, tmp_path: Path
) -> None:
    specs = [
        StrategySpec(
            f"s{n:02d}", "strategies.pulse:Pulse", ["MSFT"], {"qty": n + 1, "every": 1}, autostart=True
        )
        for n in range(40)
    ]
    engine, trading, task = await run_engine(sim, tmp_path, specs)
    charges = engine.bus.subscribe(types={"fill"})
    try:
        assert len(trading.actors) == 40
        assert engine.hub is not None and engine.hub.allocator.connections == 30  # + engine + recorder = 32
        sim.control.set_price("MSFT", 410.0)
        for actor in trading.actors.values():
            await actor.tell(bar("MSFT", 0, 410.0))
        for _ in range(40):
            await wait_for_event(charges, lambda e: isinstance(e, CommissionCharged), timeout=30)
        portfolio = trading.portfolio
        assert portfolio is not None
        positions = {p.strategy_id: p.qty for p in portfolio.positions()}
    finally:
        await stop_engine(engine, task)
    assert positions == {f"s{n:02d}": float(n + 1) for n in range(40)}
    executed = sim.control.executions()
    assert len(executed) == 40
    assert {f.execution.order_ref.split(":")[1]: float(f.execution.shares) for f in executed} == positions
    assert len({f.execution.client_id for f in executed}) == 30  # ten clients carried two strategies


async def test_a_strategy_that_blocks_the_loop_for_200_ms_is_flagged_and_the_others_keep_trading(
    sim: SimServer, tmp_path: Path
) -> None:
    specs = [
        StrategySpec("sleepy", "strategies.pulse:Pulse", ["AAPL"], {"qty": 1, "every": 1}, autostart=True),
        StrategySpec("brisk", "strategies.pulse:Pulse", ["MSFT"], {"qty": 3, "every": 1}, autostart=True),
    ]
    engine, trading, task = await run_engine(sim, tmp_path, specs)
    events = engine.bus.subscribe(types={"fill", "alert"})
    try:
        sleepy = trading.actors["sleepy"]
        assert sleepy.strategy is not None
        sleepy.strategy.run_strategy = _block_200ms  # type: ignore[method-assign]
        await sleepy.tell(bar("AAPL", 0, 100.0))
        flagged = await wait_for_event(events, lambda e: getattr(e, "kind", "") == "slow_handler")
        lagged = await wait_for_event(events, lambda e: getattr(e, "kind", "") == "loop_lag")
        sim.control.set_price("MSFT", 300.0)
        await trading.actors["brisk"].tell(bar("MSFT", 0, 300.0))
        filled = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
        assert trading.status["sleepy"][0] == "running"  # flagged, not stopped: it is slow, not broken
    finally:
        await stop_engine(engine, task)
    assert flagged.data["actor"] == "strategy:sleepy" and flagged.data["ms"] >= 200
    assert lagged.data["lag_ms"] >= 150  # the loop-lag monitor saw the same stall
    assert filled.fill.strategy_id == "brisk"


async def _block_200ms(bar: Bar) -> None:
    import time

    time.sleep(0.2)  # noqa: ASYNC251 - the bug under test: blocking work on the event loop


async def test_strategies_trade_on_bars_built_from_ibs_real_time_bars(tmp_path: Path) -> None:
    async with stopped_sim(price_interval=1.0) as sim:
        spec = StrategySpec(
            "barfed",
            "strategies.pulse:Pulse",
            ["AAPL"],
            {"qty": 4, "every": 1},
            bar_size="15s",
            autostart=True,
        )
        engine, trading, task = await run_engine(sim, tmp_path, [spec])
        events = engine.bus.subscribe(types={"fill"})
        try:
            actor = trading.actors["barfed"]
            assert trading.feed is not None
            sim.control.advance(16)  # three 5-second bars: one 15-second bar, then the strategy buys
            opened = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
            sim.control.advance(15)  # the next 15-second bar: it closes
            closed = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
            last = actor.last_bar
            (stream,) = trading.feed._streams.values()
            assert stream.bars is not None and len(stream.bars) == 1  # ib_async's list does not grow all day
        finally:
            await stop_engine(engine, task)
    assert (opened.fill.side, opened.fill.qty, closed.fill.side, closed.fill.qty) == ("BUY", 4, "SELL", 4)
    assert actor.bars_seen == 2 and last is not None
    assert last.time == datetime(2026, 11, 23, 15, 0, 15, tzinfo=UTC)  # aligned to the 15 s grid


async def test_bars_faster_than_fills_never_stack_a_pulse_on_an_order_not_yet_booked(
    sim: SimServer, tmp_path: Path
) -> None:
    """The demo's 120x soak: bars came every 40 ms, a fill now and then a little later, and each bar in
    between closed the same position again, until it was 12,390 shares and the risk limit refused
    every order. Twenty bars at once: each is handled before the last order's fill comes back."""
    spec = StrategySpec("pulse", "strategies.pulse:Pulse", ["AAPL"], {"qty": 10, "every": 1}, autostart=True)
    engine, trading, task = await run_engine(sim, tmp_path, [spec])
    positions = engine.bus.subscribe(types={"position"})
    filled = engine.bus.subscribe(types={"fill"})
    try:
        pulse = trading.actors["pulse"].strategy
        assert pulse is not None
        handled_all = asyncio.Event()
        run_strategy = pulse.run_strategy

        async def counted(bar: Bar) -> None:
            await run_strategy(bar)  # type: ignore[misc]
            if pulse.bars == 20:  # type: ignore[attr-defined]
                handled_all.set()

        pulse.run_strategy = counted  # type: ignore[method-assign]
        sim.control.set_price("AAPL", 101.0)
        for i in range(20):
            await trading.actors["pulse"].tell(bar("AAPL", i, 101.0))
        await asyncio.wait_for(handled_all.wait(), 10)
        last_ref = pulse.last_order.order_ref  # type: ignore[attr-defined]
        await wait_for_event(filled, lambda e: isinstance(e, OrderFilled) and e.fill.order_ref == last_ref)
    finally:
        await stop_engine(engine, task)
    seen = []
    while (envelope := positions.get_nowait()) is not None:
        event = envelope.data
        if isinstance(event, PositionChanged) and event.position.strategy_id == "pulse":
            seen.append(event.position.qty)
    assert seen and seen[0] == 10
    assert {abs(qty) for qty in seen} <= {0, 10}, seen
