"""The engine's fill path keeps bounded memory and still books every execution exactly once (issue 12)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ib_async import MarketOrder, Stock

from mats.actors import EventBus, Supervisor
from mats.actors.portfolio import GetPositions, PortfolioManager
from mats.actors.recorder import Recorder
from mats.ib import IBHub
from mats.messages import OrderFilled
from mats.sim import SimServer
from mats.store.journal import Journal

from .conftest import wait_for_event
from .test_recorder_path import strategy_client


class Flush:
    """Asked of the recorder: answered once every execution queued before it was handled."""


async def test_fills_let_go_from_memory_are_not_booked_twice_when_the_catch_up_resends_them(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    journal.keep_revisions = 2  # the repeat check holds 2 executions in memory, the rest only in SQLite
    async with Supervisor() as supervisor:
        fills = bus.subscribe(types={"fill"})
        portfolio = await supervisor.spawn(
            PortfolioManager(bus=bus, keep_fills=2, keep_fills_for=timedelta(0))
        )
        recorder = await supervisor.spawn(Recorder(journal, hub.recorder, bus=bus, forward=portfolio.tell))
        await hub.start()
        sim.control.set_price("AAPL", 100.0)
        client = await strategy_client(sim, 21)
        try:
            [aapl] = await client.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            for i in range(5):
                sim.control.set_price("AAPL", 100.0 + i)
                client.placeOrder(aapl, MarketOrder("BUY", 10, orderRef=f"mats:bounded:0{i}"))
                await wait_for_event(fills, lambda e: isinstance(e, OrderFilled))
            await portfolio.ask(GetPositions())  # the portfolio has booked what the recorder passed on
            assert len(portfolio._fills) == 2 and portfolio.settled_fills == 3
            assert len(journal._revisions) == 2

            await hub.pause()
            await hub.resume()  # the catch-up re-sends the day's five executions
            assert hub.recorder.ib is not None
            await hub.recorder.ib.reqExecutionsAsync()  # and once more, through the same hook
            await recorder.ask(Flush())
            (position,) = await portfolio.ask(GetPositions("bounded"))
            assert recorder.recorded == 5 and recorder.duplicates >= 5
            assert position.qty == 50.0 and position.avg_cost == pytest.approx(102.0)

            newest = sim.control.executions()[-1].execution.exec_id
            corrected = sim.control.faults.correct_execution(newest, price=99.0)
            fixed = await wait_for_event(
                fills, lambda e: isinstance(e, OrderFilled) and e.fill.exec_id == corrected
            )
            assert fixed.fill.price == 99.0
            await recorder.ask(Flush())
            (position,) = await portfolio.ask(GetPositions("bounded"))
        finally:
            client.disconnect()
    # rebuilt from the fills let go plus the kept ones: 100, 101, 102, 103 and the corrected 99
    assert position.qty == 50.0 and position.avg_cost == pytest.approx((100 + 101 + 102 + 103 + 99) / 5)
    assert len(portfolio._fills) == 2
