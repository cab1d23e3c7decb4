"""Risk limits against the simulator: each limit refuses the right order with its reason (journaled as
Rejected, published as RiskRejected) and nothing reaches IB for it; a strategy's daily loss makes it
reducing-only, then halts it with its resting orders cancelled at IB."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec

from mats.actors import Subscription
from mats.brokers.orders import OrderHandle
from mats.engine import Engine
from mats.messages import OrderStatusChanged, PositionChanged, RiskRejected, StrategyStatusChanged
from mats.model import OrderState, StrategyRisk, StrategySpec
from mats.sim import SimServer
from mats.strategy import BaseStrategy
from mats.trading import LiveTrading

from .support import wait_for_event
from .test_live_strategies import run_engine, stop_engine

AAPL = 265598


def quiet(sid: str, symbols: list[str], risk: StrategyRisk | None = None) -> StrategySpec:
    """A strategy that trades only when the test tells it to (Pulse, which never reaches its turn)."""
    return StrategySpec(
        sid,
        "strategies.pulse:Pulse",
        list(symbols),
        {"qty": 1, "every": 1_000_000},
        autostart=True,
        risk=risk or StrategyRisk(),
    )


def set_risk(engine: Engine, **limits: Any) -> None:
    """Account-wide ``[risk]`` as changed through the API: the checks read it at once."""
    risk = msgspec.structs.replace(engine.settings.risk, **limits)
    engine.settings = msgspec.structs.replace(engine.settings, risk=risk)


def strategy_of(trading: LiveTrading, sid: str) -> BaseStrategy:
    strategy = trading.actors[sid].strategy
    assert strategy is not None
    return strategy


async def place(strategy: BaseStrategy, symbol: str, qty: float, **prices: float) -> OrderHandle:
    handle = strategy.place_order(symbol, qty, **prices)
    await handle
    return handle


async def assert_refused(
    trading: LiveTrading, sim: SimServer, risk_events: Subscription, handle: OrderHandle, reason: str
) -> None:
    """Refused with ``reason`` (exactly), published and journaled so; IB never saw the order."""
    assert handle.status is OrderState.REJECTED, handle.reason
    assert handle.reason == reason
    published = await wait_for_event(risk_events, lambda e: isinstance(e, RiskRejected))
    assert published.reason == reason
    assert trading.journal is not None
    journaled = {s.order_ref: s for s in await trading.journal.current_orders()}[handle.order_ref]
    assert (journaled.state, journaled.reason) == (OrderState.REJECTED, reason)
    assert handle.order_ref not in {o.ticket.order_ref for o in sim.control.orders()}


def sent(sim: SimServer, *handles: OrderHandle) -> bool:
    return {h.order_ref for h in handles} <= {o.ticket.order_ref for o in sim.control.orders()}


async def position_booked(events: Subscription, sid: str, qty: float) -> None:
    await wait_for_event(
        events,
        lambda e: isinstance(e, PositionChanged) and e.position.strategy_id == sid and e.position.qty == qty,
    )


async def test_a_limit_price_beyond_the_collar_from_the_last_price_is_refused(
    sim: SimServer, tmp_path: Path
) -> None:
    engine, trading, task = await run_engine(sim, tmp_path, [quiet("collared", ["AAPL"])])
    risk_events = engine.bus.subscribe(types={"risk"})
    try:
        set_risk(engine, price_collar_pct=10.0)
        sim.control.set_price("AAPL", 100.0)
        assert engine.hub is not None
        feed, ib = trading.feed, engine.hub.engine.ib
        assert feed is not None and ib is not None
        async with asyncio.timeout(5):
            while feed.last_price(AAPL) != 100.0:  # (a bar from before the new price may come first)
                sim.control.advance(5)  # a 5-second bar closes: the feed's last price
                await ib.updateEvent
        strategy = strategy_of(trading, "collared")
        too_far = await place(strategy, "AAPL", 1, limit_price=85.0)
        stop_too_far = await place(strategy, "AAPL", -1, stop_price=112.0)
        within = await place(strategy, "AAPL", 1, limit_price=92.0)
        await assert_refused(
            trading,
            sim,
            risk_events,
            too_far,
            "limit price 85 is 15.0% from the last price 100, beyond risk.price_collar_pct 10%",
        )
        await assert_refused(
            trading,
            sim,
            risk_events,
            stop_too_far,
            "stop price 112 is 12.0% from the last price 100, beyond risk.price_collar_pct 10%",
        )
        within.modify(limit_price=80.0)  # moving a working order past the collar is refused too
        refused = await wait_for_event(risk_events, lambda e: isinstance(e, RiskRejected))
        assert refused.reason == (
            "limit price 80 is 20.0% from the last price 100, beyond risk.price_collar_pct 10%"
        )
        working = {o.ticket.order_ref: o for o in sim.control.open_orders()}[within.order_ref]
        assert working.ticket.lmt_price == 92.0  # the order keeps working as it was
    finally:
        await stop_engine(engine, task)
    assert within.status is not OrderState.REJECTED and sent(sim, within)
    assert within.request.limit_price == 92.0  # … and the strategy's handle says so (once the reply came)


async def test_an_order_that_would_take_the_position_past_max_position_is_refused(
    sim: SimServer, tmp_path: Path
) -> None:
    spec = quiet("capped", ["AAPL"], StrategyRisk(max_position=10))
    engine, trading, task = await run_engine(sim, tmp_path, [spec])
    risk_events = engine.bus.subscribe(types={"risk"})
    positions = engine.bus.subscribe(types={"position"})
    try:
        set_risk(engine, max_position=50)  # the account's limit is looser: the strategy's binds
        sim.control.set_price("AAPL", 100.0)
        strategy = strategy_of(trading, "capped")
        await (await place(strategy, "AAPL", 6)).filled()
        await position_booked(positions, "capped", 6)
        resting = await place(strategy, "AAPL", 3, limit_price=90.0)  # working: 6 + 3
        too_many = await place(strategy, "AAPL", 2, limit_price=90.0)
        await assert_refused(
            trading,
            sim,
            risk_events,
            too_many,
            "AAPL position would reach 11 (held 6, working +3, this order +2), "
            "beyond strategies[capped].risk.max_position 10",
        )
        fits = await place(strategy, "AAPL", 1, limit_price=90.0)
        reduces = await place(strategy, "AAPL", -6, limit_price=110.0)
    finally:
        await stop_engine(engine, task)
    assert [h.status is OrderState.REJECTED for h in (resting, fits, reduces)] == [False] * 3
    assert sent(sim, resting, fits, reduces)


async def test_an_order_past_max_open_orders_is_refused_until_one_of_them_ends(
    sim: SimServer, tmp_path: Path
) -> None:
    engine, trading, task = await run_engine(sim, tmp_path, [quiet("busy", ["AAPL"])])
    risk_events = engine.bus.subscribe(types={"risk"})
    orders = engine.bus.subscribe(types={"order"})
    try:
        set_risk(engine, max_open_orders=2)
        sim.control.set_price("AAPL", 100.0)
        strategy = strategy_of(trading, "busy")
        first = await place(strategy, "AAPL", 1, limit_price=90.0)
        await place(strategy, "AAPL", 1, limit_price=91.0)
        third = await place(strategy, "AAPL", 1, limit_price=92.0)
        await assert_refused(
            trading, sim, risk_events, third, "busy has 2 open orders, risk.max_open_orders is 2"
        )
        first.cancel()
        await wait_for_event(
            orders,
            lambda e: (
                isinstance(e, OrderStatusChanged)
                and e.status.order_ref == first.order_ref
                and e.status.state is OrderState.CANCELLED
            ),
        )
        again = await place(strategy, "AAPL", 1, limit_price=92.0)
    finally:
        await stop_engine(engine, task)
    assert again.status is not OrderState.REJECTED and sent(sim, again)
    assert len(sim.control.orders()) == 3


async def test_orders_past_max_orders_per_minute_are_refused(sim: SimServer, tmp_path: Path) -> None:
    spec = quiet("chatty", ["AAPL"], StrategyRisk(max_orders_per_minute=3))
    engine, trading, task = await run_engine(sim, tmp_path, [spec, quiet("calm", ["AAPL"])])
    risk_events = engine.bus.subscribe(types={"risk"})
    try:
        sim.control.set_price("AAPL", 100.0)
        chatty, calm = strategy_of(trading, "chatty"), strategy_of(trading, "calm")
        accepted = [await place(chatty, "AAPL", 1, limit_price=90.0) for _ in range(3)]
        fourth = await place(chatty, "AAPL", 1, limit_price=90.0)
        await assert_refused(
            trading,
            sim,
            risk_events,
            fourth,
            "chatty sent 3 orders in the last minute, strategies[chatty].risk.max_orders_per_minute is 3",
        )
        other = await place(calm, "AAPL", 1, limit_price=90.0)  # another strategy's rate is its own
    finally:
        await stop_engine(engine, task)
    assert sent(sim, *accepted, other) and len(sim.control.orders()) == 4


async def test_an_instrument_outside_allowed_symbols_is_refused_for_that_strategy(
    sim: SimServer, tmp_path: Path
) -> None:
    spec = quiet("apple_only", ["AAPL", "MSFT"], StrategyRisk(allowed_symbols=["AAPL"]))
    engine, trading, task = await run_engine(sim, tmp_path, [spec])
    risk_events = engine.bus.subscribe(types={"risk"})
    try:
        sim.control.set_price("AAPL", 100.0)
        sim.control.set_price("MSFT", 300.0)
        strategy = strategy_of(trading, "apple_only")
        msft = await place(strategy, "MSFT", 1, limit_price=250.0)
        await assert_refused(
            trading, sim, risk_events, msft, "MSFT is not in strategies[apple_only].risk.allowed_symbols AAPL"
        )
        aapl = await place(strategy, "AAPL", 1, limit_price=90.0)
    finally:
        await stop_engine(engine, task)
    assert aapl.status is not OrderState.REJECTED and sent(sim, aapl)
    assert len(sim.control.orders()) == 1


async def test_a_daily_loss_makes_the_strategy_reducing_only_then_halts_it_and_clears_its_book(
    sim: SimServer, tmp_path: Path
) -> None:
    spec = quiet("loser", ["AAPL"], StrategyRisk(daily_loss_limit=100, daily_loss_halt=300))
    engine, trading, task = await run_engine(sim, tmp_path, [spec, quiet("bystander", ["AAPL"])])
    risk_events = engine.bus.subscribe(types={"risk"})
    alerts = engine.bus.subscribe(types={"alert"})
    positions = engine.bus.subscribe(types={"position"})
    orders = engine.bus.subscribe(types={"order"})
    strategies = engine.bus.subscribe(types={"strategy"})
    try:
        sim.control.set_price("AAPL", 100.0)
        loser, bystander = strategy_of(trading, "loser"), strategy_of(trading, "bystander")
        await (await place(loser, "AAPL", 10)).filled()
        await position_booked(positions, "loser", 10)
        resting = await place(loser, "AAPL", 1, limit_price=10.0)  # far below: it rests at IB
        bystanders_order = await place(bystander, "AAPL", 1, limit_price=10.0)

        sim.control.set_price("AAPL", 85.0)  # −150 unrealized
        reducing = await wait_for_event(alerts, lambda e: getattr(e, "kind", "") == "reducing_only")
        assert "loser is reducing-only: daily loss -15" in reducing.message
        assert "reached strategies[loser].risk.daily_loss_limit 100.00" in reducing.message
        why = reducing.message.removeprefix("loser is reducing-only: ")
        adding = await place(loser, "AAPL", 1)
        await assert_refused(
            trading,
            sim,
            risk_events,
            adding,
            f"loser is reducing-only ({why}): "
            "this order would take AAPL from 10 to 12",  # the resting buy counts
        )
        reducing_order = await place(loser, "AAPL", -4)
        await reducing_order.filled()
        await position_booked(positions, "loser", 6)

        sim.control.set_price("AAPL", 50.0)  # 6 × −50 unrealized, −60 realized
        halted = await wait_for_event(alerts, lambda e: getattr(e, "kind", "") == "halted")
        await wait_for_event(
            orders,
            lambda e: (
                isinstance(e, OrderStatusChanged)
                and e.status.order_ref == resting.order_ref
                and e.status.state is OrderState.CANCELLED
            ),
        )
        stopped = await wait_for_event(
            strategies,
            lambda e: (
                isinstance(e, StrategyStatusChanged) and e.strategy_id == "loser" and e.status == "stopped"
            ),
        )
        late = await place(loser, "AAPL", -1)
        open_refs = {o.ticket.order_ref for o in sim.control.open_orders()}
        bystander_running = "bystander" in trading.actors
    finally:
        await stop_engine(engine, task)
    assert reducing_order.status is OrderState.FILLED
    assert "loser halted: daily loss -36" in halted.message
    assert "reached strategies[loser].risk.daily_loss_halt 300.00" in halted.message
    assert stopped.reason.startswith("kill switch: daily loss -36")
    assert late.status is OrderState.REJECTED and late.reason.startswith("kill switch engaged for loser")
    assert resting.order_ref not in open_refs and bystanders_order.order_ref in open_refs
    assert bystander_running
