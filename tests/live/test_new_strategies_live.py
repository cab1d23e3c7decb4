"""MeanReversion and Rebalancer live against the simulator: each sends real orders through its own IB
client, and every fill comes back attributed to it (IB's executions, the journal's books)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB, AccountValue, Trade

from mats.messages import OrderFilled, PositionChanged
from mats.model import StrategySpec
from mats.sim import SimServer

from .conftest import wait_for_event
from .test_live_strategies import bar, run_engine, stop_engine

AAPL, MSFT = 265598, 272093


class Awaited:
    """The first ib_async event whose argument matches, armed before the action that causes it."""

    def __init__(self, event: Any, match: Callable[[Any], bool]) -> None:
        self._event, self._match = event, match
        self._future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        event += self._seen

    def _seen(self, item: Any) -> None:
        if not self._future.done() and self._match(item):
            self._future.set_result(item)

    async def result(self, timeout: float = 10) -> Any:
        try:
            return await asyncio.wait_for(self._future, timeout)
        finally:
            self._event -= self._seen


def resting(ib: IB, action: str, price: float) -> Awaited:
    """The simulator has acknowledged a limit ``action`` at ``price`` (placed or modified)."""
    return Awaited(
        ib.openOrderEvent,
        lambda t: isinstance(t, Trade) and t.order.action == action and t.order.lmtPrice == price,
    )


async def test_mean_reversion_rests_moves_and_fills_its_limits_through_its_own_client(
    sim: SimServer, tmp_path: Path
) -> None:
    spec = StrategySpec(
        "meanrev",
        "strategies.mean_reversion:MeanReversion",
        ["AAPL"],
        {"lookback": 5, "entry_z": 1.5, "discount": 0.02, "qty": 10},
        autostart=True,
    )
    engine, trading, task = await run_engine(sim, tmp_path, [spec])
    events = engine.bus.subscribe(types={"fill", "position"})
    try:
        assert engine.hub is not None
        own = await engine.hub.client_for("meanrev")
        assert own.ib is not None
        actor = trading.actors["meanrev"]
        sim.control.set_price("AAPL", 98.0)
        bid = resting(own.ib, "BUY", 96.04)
        for i, close in enumerate([100.0, 101.0, 99.0, 100.0, 100.0, 98.0]):
            await actor.tell(bar("AAPL", i, close))  # mean 99.6, the close 1.57 deviations under it
        await bid.result()
        sim.control.set_price("AAPL", 96.5)
        moved = resting(own.ib, "BUY", 94.57)
        await actor.tell(bar("AAPL", 6, 96.5))  # still stretched: the bid follows the close
        await moved.result()
        working = sim.control.open_orders()
        assert [(o.ticket.action, float(o.ticket.lmt_price)) for o in working] == [("BUY", 94.57)]
        offer = resting(own.ib, "SELL", 98.70)  # the mean of 99, 100, 100, 98, 96.5
        sim.control.set_price("AAPL", 94.2)  # trades through the bid: bought at its limit
        bought = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
        await offer.result()
        sim.control.set_price("AAPL", 99.1)  # through the offer: sold at its limit
        sold = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
        await wait_for_event(
            events,
            lambda e: (
                isinstance(e, PositionChanged) and e.position.strategy_id == "meanrev" and e.position.qty == 0
            ),
        )
        assert trading.portfolio is not None
        position = trading.portfolio.position("meanrev", AAPL)
    finally:
        await stop_engine(engine, task)

    assert (bought.fill.side, bought.fill.qty, bought.fill.price) == ("BUY", 10, 94.57)
    assert (sold.fill.side, sold.fill.qty, sold.fill.price) == ("SELL", 10, 98.70)
    assert {bought.fill.strategy_id, sold.fill.strategy_id} == {"meanrev"}
    assert position is not None
    assert position.qty == 0 and position.realized_pnl == pytest.approx(10 * (98.70 - 94.57))
    executed = sim.control.executions()
    assert [(f.execution.side, f.execution.price) for f in executed] == [("BOT", 94.57), ("SLD", 98.70)]
    assert {f.execution.order_ref.split(":")[1] for f in executed} == {"meanrev"}
    assert {f.execution.client_id for f in executed} == {own.client_id}
    assert own.client_id not in (0, 99)


async def test_rebalancer_holds_equal_shares_of_its_target_weight_on_a_one_second_schedule(
    sim: SimServer, tmp_path: Path
) -> None:
    spec = StrategySpec(
        "rebal",
        "strategies.rebalancer:Rebalancer",
        ["AAPL", "MSFT"],
        {"every": "1s", "min_trade": 0.02},
        target_weight=0.1,  # of the simulator's $1,000,000: $50,000 a symbol
        autostart=True,
    )
    engine, trading, task = await run_engine(sim, tmp_path, [spec])
    events = engine.bus.subscribe(types={"fill", "position"})
    try:
        assert engine.hub is not None and engine.hub.engine.ib is not None
        actor = trading.actors["rebal"]
        sim.control.set_price("AAPL", 100.0)
        sim.control.set_price("MSFT", 400.0)
        await actor.tell(bar("AAPL", 0, 100.0))
        await actor.tell(bar("MSFT", 0, 400.0))
        opened = [await wait_for_event(events, lambda e: isinstance(e, OrderFilled)) for _ in range(2)]

        # AAPL rallies 25%: once the engine sees the new NetLiquidation and the bar, AAPL is sold back
        repriced = Awaited(
            engine.hub.engine.ib.accountValueEvent,
            lambda v: (
                isinstance(v, AccountValue) and v.tag == "NetLiquidation" and float(v.value) > 1_012_000
            ),
        )
        sim.control.set_price("AAPL", 125.0)
        net_liquidation = float((await repriced.result()).value)
        await actor.tell(bar("AAPL", 1, 125.0))
        trimmed = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
        await wait_for_event(
            events,
            lambda e: isinstance(e, PositionChanged) and e.position.qty == 500 - trimmed.fill.qty,
        )
        assert trading.portfolio is not None
        held = {p.symbol: p.qty for p in trading.portfolio.positions("rebal")}
    finally:
        await stop_engine(engine, task)

    assert sorted((e.fill.symbol, e.fill.side, e.fill.qty, e.fill.price) for e in opened) == [
        ("AAPL", "BUY", 500, 100.0),  # 50,000 / 100
        ("MSFT", "BUY", 125, 400.0),  # 50,000 / 400
    ]
    share = 0.1 * net_liquidation / 2  # 50,625 less the commissions paid so far
    assert (trimmed.fill.symbol, trimmed.fill.side, trimmed.fill.price) == ("AAPL", "SELL", 125.0)
    assert held["AAPL"] == 500 - trimmed.fill.qty == round(share / 125.0) == 405
    assert held["MSFT"] == 125  # 2 shares off its share: under min_trade (2% of 50,625), left alone
    assert abs(held["AAPL"] * 125.0 - share) <= 125.0 and abs(held["MSFT"] * 400.0 - share) <= 2 * 400.0
    executed = sim.control.executions()
    assert len(executed) == 3
    assert {f.execution.order_ref.split(":")[1] for f in executed} == {"rebal"}
    clients = {f.execution.client_id for f in executed}
    assert len(clients) == 1 and not clients & {0, 99}
