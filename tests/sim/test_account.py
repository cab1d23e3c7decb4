"""Positions, cash per currency, NetLiquidation and PnL as subscribed clients see them."""

from __future__ import annotations

import pytest
from ib_async import IB, Contract, Forex, Future, MarketOrder, Stock, Trade

from mats.sim import SimServer

from .conftest import Connect
from .helpers import wait_until

MASTER = 99


def account_value(ib: IB, tag: str, currency: str) -> str | None:
    for v in ib.accountValues():
        if v.tag == tag and v.currency == currency and not v.modelCode:
            return v.value
    return None


async def trade_all(ib: IB, orders: list[tuple[Contract, MarketOrder]]) -> list[Trade]:
    trades = [ib.placeOrder(contract, order) for contract, order in orders]
    await wait_until(
        ib, lambda: all(t.isDone() and all(f.commissionReport.execId for f in t.fills) for t in trades)
    )
    return trades


async def test_positions_cash_and_net_liquidation_across_currencies(sim: SimServer, connect: Connect) -> None:
    engine = await connect(0)
    watcher = await connect(MASTER)
    contracts = await engine.qualifyContractsAsync(
        Stock("AAPL", "SMART", "USD"),
        Future("ES", exchange="CME"),
        Forex("EURUSD"),
        Stock("SAP", "SMART", "EUR"),
    )
    aapl, es, eurusd, sap = (c for c in contracts if isinstance(c, Contract))
    for symbol, price in (("AAPL", 190.0), ("ES", 5000.0), ("EUR.USD", 1.08), ("SAP", 180.0)):
        sim.control.set_price(symbol, price)

    await trade_all(
        engine,
        [
            (aapl, MarketOrder("BUY", 100)),  # $19,000 + $1.00
            (es, MarketOrder("SELL", 2)),  # no cash moves; $4.50
            (eurusd, MarketOrder("BUY", 10_000)),  # +EUR 10,000, -$10,800; $2.00 minimum
            (sap, MarketOrder("BUY", 10)),  # EUR 1,800 + EUR 1.25 minimum
        ],
    )
    expected_net_liq = 1_000_000 - 1.00 - 4.50 - 2.00 - 1.25 * 1.08
    await wait_until(
        engine, lambda: account_value(engine, "NetLiquidation", "USD") == f"{expected_net_liq:.2f}"
    )
    await wait_until(watcher, lambda: len(watcher.positions()) == 4)

    assert account_value(engine, "CashBalance", "USD") == "970192.50"
    assert account_value(engine, "CashBalance", "EUR") == "8198.75"
    assert sim.control.net_liquidation() == pytest.approx(expected_net_liq)
    positions = {p.contract.localSymbol: (p.position, p.avgCost) for p in watcher.positions()}
    assert positions == {
        "AAPL": (100.0, 190.0),
        es.localSymbol: (-2.0, 250_000.0),  # avgCost is price × multiplier
        "EUR.USD": (10_000.0, 1.08),
        "SAP": (10.0, 180.0),
    }
    portfolio = {p.contract.localSymbol: (p.marketPrice, p.marketValue) for p in engine.portfolio()}
    assert portfolio["SAP"] == (180.0, 1800.0) and portfolio["AAPL"] == (190.0, 19_000.0)


async def test_price_move_updates_pnl_and_closing_fill_reports_realized_pnl(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(0)
    (es,) = await ib.qualifyContractsAsync(Future("ES", exchange="CME"))
    assert isinstance(es, Contract)
    sim.control.set_price("ES", 5000.0)
    await trade_all(ib, [(es, MarketOrder("SELL", 2))])
    pnl = ib.reqPnL("DU0000001")
    single = ib.reqPnLSingle("DU0000001", "", es.conId)

    sim.control.set_price("ES", 4990.0)  # short 2 × 50 × 10 points = +$1,000
    await wait_until(ib, lambda: pnl.unrealizedPnL == 1000.0 and single.unrealizedPnL == 1000.0)
    await wait_until(ib, lambda: account_value(ib, "UnrealizedPnL", "USD") == "1000.00")
    assert pnl.dailyPnL == pytest.approx(1000.0 - 4.50)
    assert (single.position, single.value) == (-2.0, -499_000.0)

    (closing,) = await trade_all(ib, [(es, MarketOrder("BUY", 2))])

    (fill,) = closing.fills
    assert fill.commissionReport.realizedPNL == pytest.approx(1000.0 - 4.50)
    await wait_until(ib, lambda: not ib.positions())
    assert sim.control.positions() == {}
    assert sim.control.cash()["USD"] == pytest.approx(1_000_000 + 1000.0 - 9.00)


async def test_position_updates_reach_every_subscriber_but_not_after_disconnect(
    sim: SimServer, connect: Connect
) -> None:
    first = await connect(31)
    second = await connect(32)
    (aapl,) = await first.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(aapl, Contract)

    await trade_all(first, [(aapl, MarketOrder("BUY", 5))])
    await wait_until(second, lambda: [p.position for p in second.positions()] == [5.0])
    second.disconnect()
    await trade_all(first, [(aapl, MarketOrder("BUY", 5))])
    await wait_until(first, lambda: [p.position for p in first.positions()] == [10.0])

    assert sim.control.positions()["AAPL"].qty == 10
    assert sim.control.connected_client_ids() == [31]
