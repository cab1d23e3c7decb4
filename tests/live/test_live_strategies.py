"""Strategies as actors, live against the simulator: orders out through their own clients, every fill
recorded once and attributed, a raising strategy stopped while the others keep trading."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from mats.actors import Subscription
from mats.config import load_settings
from mats.engine import Engine
from mats.ib import IBHub
from mats.messages import CommissionCharged, OrderFilled, PositionChanged, StrategyStatusChanged
from mats.model import Bar, StrategySpec
from mats.sim import SimServer
from mats.trading import LiveTrading

from .conftest import FAST, wait_for_event

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def bar(symbol: str, i: int, price: float) -> Bar:
    return Bar(symbol=symbol, time=T0 + timedelta(minutes=i), open=price, high=price, low=price, close=price)


async def run_engine(
    sim: SimServer, tmp_path: Path, specs: list[StrategySpec]
) -> tuple[Engine, LiveTrading, asyncio.Task[None]]:
    settings = load_settings(None, environ={}, overrides={"data_dir": str(tmp_path)})
    ib = msgspec.structs.replace(settings.ib, port=sim.port, connect_timeout=2.0)
    settings = msgspec.structs.replace(settings, ib=ib, strategies=specs)
    engine = Engine(settings)
    engine.hub = IBHub(settings.ib, bus=engine.bus, backoff=FAST)
    trading = LiveTrading()
    engine.components.extend([engine.hub, trading])
    task = asyncio.create_task(engine.run(handle_signals=False))
    await asyncio.wait_for(engine.ready.wait(), 20)
    return engine, trading, task


async def stop_engine(engine: Engine, task: asyncio.Task[None]) -> None:
    engine.request_shutdown("test over")
    await asyncio.wait_for(task, 20)


async def fills(sub: Subscription, n: int) -> list[OrderFilled]:
    return [await wait_for_event(sub, lambda e: isinstance(e, OrderFilled)) for _ in range(n)]


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
    events = engine.bus.subscribe(types={"fill", "position"})
    charges = engine.bus.subscribe(types={"fill"})
    try:
        assert set(trading.actors) == {"longer", "shorter"}
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
