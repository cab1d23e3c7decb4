"""Client 99 → journal → PortfolioManager: every execution recorded once, attributed by orderRef."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock

from mats.actors import EventBus, Supervisor
from mats.actors.portfolio import GetCommissions, GetPositions, PortfolioManager
from mats.actors.recorder import Recorder
from mats.ib import IBHub
from mats.messages import CommissionCharged, OrderFilled
from mats.model import DISCRETIONARY, Fill
from mats.sim import SimServer
from mats.store.journal import Journal

from .conftest import wait_for_event


async def start_recording(
    hub: IBHub, journal: Journal, bus: EventBus, supervisor: Supervisor
) -> tuple[Recorder, PortfolioManager, list[tuple[str, Fill]]]:
    """The recorder path as the engine wires it: client 99 → Recorder → journal → PortfolioManager."""
    routed: list[tuple[str, Fill]] = []
    portfolio = await supervisor.spawn(
        PortfolioManager(bus=bus, route=lambda sid, fill: routed.append((sid, fill)))
    )
    recorder = Recorder(journal, hub.recorder, bus=bus, forward=portfolio.tell)
    await supervisor.spawn(recorder)
    await hub.start()
    return recorder, portfolio, routed


async def strategy_client(sim: SimServer, client_id: int) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=client_id, timeout=2)
    return ib


async def test_two_strategies_and_a_manual_trade_are_attributed_exactly(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    async with Supervisor() as supervisor:
        fills = bus.subscribe(types={"fill"})
        recorder, portfolio, routed = await start_recording(hub, journal, bus, supervisor)
        sim.control.set_price("AAPL", 190.0)
        long_client, short_client = await strategy_client(sim, 11), await strategy_client(sim, 12)
        try:
            [aapl] = await long_client.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            long_client.placeOrder(
                aapl, MarketOrder("BUY", 30, orderRef="mats:trend:01JTREND0000000000000001")
            )
            short_client.placeOrder(
                aapl, MarketOrder("SELL", 10, orderRef="mats:meanrev:01JMEANREV00000000000001")
            )
            sim.control.place_manual_order("AAPL", "BUY", 5)
            for _ in range(3):
                await wait_for_event(fills, lambda e: isinstance(e, OrderFilled))
            positions = {p.strategy_id: p for p in await portfolio.ask(GetPositions())}
        finally:
            long_client.disconnect()
            short_client.disconnect()

        executed = {f.execution.order_ref: f for f in sim.control.executions()}
        assert len(executed) == 3
        assert (
            positions["trend"].qty == 30
            and positions["trend"].avg_cost == executed["mats:trend:01JTREND0000000000000001"].execution.price
        )
        assert positions["meanrev"].qty == -10
        assert positions[DISCRETIONARY].qty == 5  # no mats: orderRef → nobody's
        assert sum(p.qty for p in positions.values()) == float(sim.control.positions()["AAPL"].qty)
        assert sorted(sid for sid, _ in routed) == [
            "meanrev",
            "trend",
        ]  # Discretionary has no strategy to tell
        assert recorder.recorded == 3 and recorder.duplicates == 0


async def test_commissions_arriving_after_their_fill_are_joined_by_exec_id(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    async with Supervisor() as supervisor:
        events = bus.subscribe(types={"fill"})
        _, portfolio, _ = await start_recording(hub, journal, bus, supervisor)
        sim.control.set_price("MSFT", 400.0)
        sim.control.set_fill_slices(3)
        client = await strategy_client(sim, 13)
        try:
            [msft] = await client.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
            client.placeOrder(msft, MarketOrder("BUY", 300, orderRef="mats:slicer:01JSLICER000000000000001"))
            charged = [
                await wait_for_event(events, lambda e: isinstance(e, CommissionCharged)) for _ in range(3)
            ]
            commissions = await portfolio.ask(GetCommissions())
        finally:
            client.disconnect()
    executed = sim.control.executions()
    assert len(executed) == 3 and sum(float(f.execution.shares) for f in executed) == 300
    by_exec = {f.execution.exec_id: f.commission.commission for f in executed}
    assert {c.exec_id: c.commission for c in charged} == by_exec
    assert {c.strategy_id for c in charged} == {"slicer"}
    assert commissions["slicer"] == pytest.approx(sum(by_exec.values()))


async def test_fill_while_the_recorder_is_disconnected_is_caught_up_once(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    async with Supervisor() as supervisor:
        fills = bus.subscribe(types={"fill"})
        recorder, portfolio, _ = await start_recording(hub, journal, bus, supervisor)
        sim.control.set_price("AAPL", 100.0)
        client = await strategy_client(sim, 14)
        try:
            [aapl] = await client.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            client.placeOrder(aapl, MarketOrder("BUY", 10, orderRef="mats:s1:01JS1000000000000000001"))
            await wait_for_event(fills, lambda e: isinstance(e, OrderFilled))
            resting = client.placeOrder(
                aapl, LimitOrder("BUY", 7, 95.0, orderRef="mats:s1:01JS1000000000000000002")
            )
            await hub.pause()  # the recorder is gone...
            sim.control.set_price("AAPL", 94.0)  # ...when the resting order fills
            await asyncio.wait_for(_until_filled(client, resting), timeout=5)
            assert recorder.recorded == 1
            await hub.resume()  # catch-up after the reconnect brings it in, and the first fill is not doubled
            missed = await wait_for_event(fills, lambda e: isinstance(e, OrderFilled))
            resting_exec = [f for f in sim.control.executions() if f.execution.order_ref.endswith("0002")]
            assert (missed.fill.qty, missed.fill.price) == (7, resting_exec[0].execution.price)
            assert missed.fill.exec_id == resting_exec[0].execution.exec_id
            positions = await portfolio.ask(GetPositions("s1"))
        finally:
            client.disconnect()
        assert recorder.catch_ups == 2 and recorder.recorded == 2 and recorder.duplicates >= 1
        assert [p.qty for p in positions] == [17.0]
        assert len(sim.control.executions()) == 2


async def _until_filled(ib: IB, trade: object) -> None:
    while trade.orderStatus.status != "Filled":  # type: ignore[attr-defined]
        await ib.updateEvent
