"""Connecting like real clients do: startup sync, clientId rules, reconnects, unimplemented requests."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from ib_async import IB, Contract, LimitOrder, MarketOrder, StartupFetch, Stock

from mats.sim import SimServer

from .conftest import CONNECT_TIMEOUT, Connect
from .helpers import EVENT_TIMEOUT, wait_until

MASTER = 99
REFUSED_TIMEOUT = 0.5


async def test_engine_master_and_strategies_connect_with_full_startup_sync(
    sim: SimServer, connect: Connect
) -> None:
    clients = [await connect(cid, raiseSyncErrors=True) for cid in (0, MASTER, 1, 2, 3)]

    assert sim.control.connected_client_ids() == [0, 1, 2, 3, MASTER]
    for ib in clients:
        assert ib.isConnected() and ib.managedAccounts() == ["DU0000001"]
        assert ib.client.serverVersion() == 178
        net_liq = [v for v in ib.accountValues() if v.tag == "NetLiquidation"]
        assert [(v.value, v.currency) for v in net_liq] == [("1000000.00", "USD")] * len(net_liq) and net_liq


async def test_client_capped_at_176_is_answered_in_176_shaped_messages(
    sim: SimServer, connect: Connect
) -> None:
    old = await connect(4, max_version=176, raiseSyncErrors=True)
    master = await connect(MASTER)
    (aapl,) = await old.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(aapl, Contract)

    trade = old.placeOrder(aapl, MarketOrder("BUY", 10, orderRef="old-client"))
    await wait_until(old, lambda: bool(trade.fills) and bool(trade.fills[0].commissionReport.execId))
    await wait_until(master, lambda: bool(master.fills()))

    assert old.client.serverVersion() == 176 and master.client.serverVersion() == 178
    assert trade.orderStatus.status == "Filled" and trade.fills[0].execution.orderRef == "old-client"
    assert master.fills()[0].execution.orderRef == "old-client"


@pytest.mark.ib_client_errors_expected
async def test_duplicate_client_id_gets_326_and_the_socket_closes(sim: SimServer, connect: Connect) -> None:
    first = await connect(7)
    second = IB()
    codes: list[int] = []
    second.errorEvent += lambda req_id, code, *_: codes.append(code)

    with pytest.raises(TimeoutError):  # ib_async reports a refused clientId only as a timeout
        await second.connectAsync("127.0.0.1", sim.port, clientId=7, timeout=REFUSED_TIMEOUT)

    assert codes == [326]
    assert first.isConnected() and sim.control.connected_client_ids() == [7]
    assert await asyncio.wait_for(first.reqCurrentTimeAsync(), EVENT_TIMEOUT)


@pytest.mark.ib_client_errors_expected
async def test_the_33rd_client_is_refused_and_a_freed_slot_is_reusable(sim: SimServer) -> None:
    clients = [IB() for _ in range(32)]
    fetch = StartupFetch(0)
    await asyncio.gather(
        *(
            ib.connectAsync("127.0.0.1", sim.port, clientId=cid, timeout=CONNECT_TIMEOUT, fetchFields=fetch)
            for cid, ib in enumerate(clients, start=1)
        )
    )
    extra = IB()
    codes: list[int] = []
    extra.errorEvent += lambda req_id, code, *_: codes.append(code)
    try:
        assert len(sim.control.connected_client_ids()) == 32
        with pytest.raises(TimeoutError):
            await extra.connectAsync("127.0.0.1", sim.port, clientId=40, timeout=REFUSED_TIMEOUT)
        assert codes == [502]

        clients[0].disconnect()
        await asyncio.wait_for(sim.control.wait_disconnected(1), EVENT_TIMEOUT)
        await extra.connectAsync(
            "127.0.0.1", sim.port, clientId=40, timeout=CONNECT_TIMEOUT, fetchFields=fetch
        )
        assert extra.isConnected() and len(sim.control.connected_client_ids()) == 32
    finally:
        for ib in [*clients, extra]:
            ib.disconnect()


async def test_reconnect_recovers_open_orders_executions_and_completed_orders(
    sim: SimServer, connect: Connect
) -> None:
    master = await connect(MASTER)
    ib = await connect(7)
    (aapl,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(aapl, Contract)
    sim.control.set_price("AAPL", 190.0)
    bought = ib.placeOrder(aapl, MarketOrder("BUY", 200, orderRef="mats:a:1"))
    ib.placeOrder(aapl, LimitOrder("SELL", 50, 195.0, tif="GTC", orderRef="mats:a:2"))
    stays_open = ib.placeOrder(aapl, LimitOrder("SELL", 50, 199.0, tif="GTC", orderRef="mats:a:3"))
    await wait_until(ib, lambda: stays_open.orderStatus.status == "Submitted" and bought.isDone())
    last_order_id = stays_open.order.orderId

    ib.disconnect()
    await asyncio.wait_for(sim.control.wait_disconnected(7), EVENT_TIMEOUT)
    assert sim.exchange.next_order_id(7) == last_order_id + 1  # what nextValidId will say on reconnect
    sim.control.set_price("AAPL", 196.0)  # fills while the owner is away; the master still hears it
    await wait_until(master, lambda: len(master.fills()) == 2)

    again = await connect(7)

    (open_trade,) = again.openTrades()
    assert (open_trade.order.orderId, open_trade.order.orderRef) == (last_order_id, "mats:a:3")
    assert (open_trade.order.totalQuantity, open_trade.order.lmtPrice) == (50.0, 199.0)
    fills = sorted(again.fills(), key=lambda f: f.execution.orderRef)
    assert [(f.execution.orderRef, f.execution.shares, f.execution.price) for f in fills] == [
        ("mats:a:1", 200.0, 190.0),
        ("mats:a:2", 50.0, 195.0),
    ]
    assert [f.commissionReport.commission for f in fills] == [1.0, 1.0]
    assert {f.execution.execId for f in fills} == {b.execution.exec_id for b in sim.control.executions()}
    completed = {t.order.orderRef: t.orderStatus.status for t in again.trades() if t.order.orderId == 0}
    assert completed == {"mats:a:1": "Filled", "mats:a:2": "Filled"}

    open_trade.order.lmtPrice = 196.0  # the reconnected owner may modify it again
    again.placeOrder(open_trade.contract, open_trade.order)
    await wait_until(again, lambda: open_trade.orderStatus.status == "Filled")
    new = again.placeOrder(aapl, MarketOrder("SELL", 1))
    assert new.order.orderId > last_order_id
    await wait_until(again, lambda: new.orderStatus.status == "Filled")
    assert sim.control.positions()["AAPL"].qty == 99


async def test_requests_the_simulator_does_not_implement_never_hang(sim: SimServer, connect: Connect) -> None:
    ib = await connect(8)
    warnings: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: warnings.append((req_id, code))
    (aapl,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(aapl, Contract)

    histogram = await asyncio.wait_for(ib.reqHistogramDataAsync(aapl, True, "1 week"), EVENT_TIMEOUT)
    ticks = await asyncio.wait_for(
        ib.reqHistoricalTicksAsync(aapl, "", dt.datetime.now(dt.UTC), 10, "TRADES", True), EVENT_TIMEOUT
    )
    fundamentals = await asyncio.wait_for(ib.reqFundamentalDataAsync(aapl, "ReportSnapshot"), EVENT_TIMEOUT)
    ib.reqMktDepth(aapl)
    await wait_until(ib, lambda: len(warnings) == 4)

    assert list(histogram) == [] and list(ticks) == [] and fundamentals == ""
    assert [code for _, code in warnings] == [321] * 4
    assert all(req_id > 0 for req_id, _ in warnings)


async def test_current_time_symbols_market_rule_and_account_summary(sim: SimServer, connect: Connect) -> None:
    ib = await connect(9)
    now = await asyncio.wait_for(ib.reqCurrentTimeAsync(), EVENT_TIMEOUT)
    matches = await asyncio.wait_for(ib.reqMatchingSymbolsAsync("MS"), EVENT_TIMEOUT)
    rule = await asyncio.wait_for(ib.reqMarketRuleAsync(67), EVENT_TIMEOUT)
    summary = await asyncio.wait_for(ib.accountSummaryAsync(), EVENT_TIMEOUT)

    assert abs((dt.datetime.now(dt.UTC) - now).total_seconds()) < 5
    assert matches is not None and [m.contract.symbol for m in matches if m.contract] == ["MSFT"]
    assert rule is not None and rule[0].increment == 0.25
    tags = {(v.tag, v.currency): v.value for v in summary}
    assert tags[("NetLiquidation", "USD")] == "1000000.00"
    assert tags[("CashBalance", "USD")] == "1000000.00"


@pytest.mark.ib_client_errors_expected  # ib_async logs "Peer closed connection." when the Gateway goes
async def test_gateway_restart_keeps_orders_fills_and_ids_and_resting_orders_fill_while_down(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(7)
    (aapl,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(aapl, Contract)
    sim.control.set_price("AAPL", 190.0)
    resting = ib.placeOrder(aapl, LimitOrder("BUY", 10, 185.0, tif="GTC", orderRef="mats:r:1"))
    await wait_until(ib, lambda: resting.orderStatus.status == "Submitted")
    port = sim.port

    await sim.stop()
    assert sim.control.connected_client_ids() == []
    sim.control.set_price("AAPL", 184.0)  # fills while the Gateway is down, as at IB
    await sim.start()

    again = await connect(7)
    assert sim.port == port
    (fill,) = again.fills()
    assert (fill.execution.orderRef, fill.execution.price, fill.commissionReport.commission) == (
        "mats:r:1",
        185.0,
        1.0,
    )
    assert sim.exchange.next_order_id(7) == resting.order.orderId + 1
    trade = again.placeOrder(aapl, MarketOrder("SELL", 10))
    await wait_until(again, lambda: trade.orderStatus.status == "Filled")
    await wait_until(again, lambda: any(v.tag == "NetLiquidation" for v in again.accountValues()))
    assert sim.control.positions() == {}
