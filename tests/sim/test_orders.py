"""Orders through real ib_async clients: lifecycle, fills, commissions, fan-out to the master, ownership."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import (
    IB,
    Contract,
    Future,
    LimitOrder,
    MarketOrder,
    Order,
    Stock,
    StopLimitOrder,
    StopOrder,
    Trade,
)

from mats.sim import SimServer

from .conftest import Connect
from .helpers import EVENT_TIMEOUT, wait_until

MASTER = 99


async def qualified(ib: IB, contract: Contract) -> Contract:
    (result,) = await ib.qualifyContractsAsync(contract)
    assert isinstance(result, Contract)
    return result


async def done(trade: Trade) -> None:
    """Wait for the trade to reach a final state, then for the last commission report."""

    async def _wait() -> None:
        while not trade.isDone():
            await trade.statusEvent
        while trade.fills and any(f.commissionReport.execId == "" for f in trade.fills):
            await trade.commissionReportEvent

    await asyncio.wait_for(_wait(), EVENT_TIMEOUT)


@pytest.mark.parametrize("max_version", [176, 178])
async def test_market_order_fills_at_the_simulated_price_with_ib_commission(
    sim: SimServer, connect: Connect, max_version: int
) -> None:
    ib = await connect(3, max_version=max_version)
    assert ib.client.serverVersion() == max_version
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.set_price("AAPL", 187.42)

    trade = ib.placeOrder(aapl, MarketOrder("BUY", 300, orderRef="mats:sma:01"))
    await done(trade)

    (booked,) = sim.control.executions()
    assert trade.orderStatus.status == "Filled"
    assert (trade.orderStatus.filled, trade.orderStatus.avgFillPrice) == (300.0, 187.42)
    (fill,) = trade.fills
    assert fill.execution.execId == booked.execution.exec_id
    assert (fill.execution.shares, fill.execution.price, fill.execution.side) == (300.0, 187.42, "BOT")
    assert fill.execution.orderRef == "mats:sma:01" and fill.execution.permId == trade.order.permId > 0
    assert fill.commissionReport.commission == pytest.approx(1.50)  # 300 × $0.005
    assert fill.commissionReport.currency == "USD"
    assert booked.execution.exec_id.split(".")[-1] == "01"  # revision is the last segment
    assert trade.order.orderRef == "mats:sma:01"


async def test_partial_fills_reach_owner_and_master_with_commissions(
    sim: SimServer, connect: Connect
) -> None:
    master = await connect(MASTER)
    owner = await connect(5)
    engine = await connect(0)
    es = await qualified(owner, Future("ES", exchange="CME"))
    sim.control.set_price("ES", 5012.25)
    sim.control.set_fill_slices(3)

    trade = owner.placeOrder(es, MarketOrder("SELL", 6, orderRef="mats:es_trend:7"))
    await done(trade)
    await wait_until(master, lambda: sum(len(t.fills) for t in master.trades()) == 3)
    await wait_until(master, lambda: all(f.commissionReport.execId for t in master.trades() for f in t.fills))

    booked = sim.control.executions()
    assert [b.execution.shares for b in booked] == [2, 2, 2]
    assert [f.execution.shares for f in trade.fills] == [2.0, 2.0, 2.0]
    assert [f.execution.cumQty for f in trade.fills] == [2.0, 4.0, 6.0]
    assert [f.commissionReport.commission for f in trade.fills] == [4.5, 4.5, 4.5]  # $2.25 per contract
    assert [f.execution.execId for f in trade.fills] == [b.execution.exec_id for b in booked]
    (seen,) = master.trades()
    assert (seen.order.clientId, seen.order.orderId, seen.order.orderRef) == (
        5,
        trade.order.orderId,
        "mats:es_trend:7",
    )
    assert seen.orderStatus.status == "Filled" and seen.orderStatus.filled == 6.0
    assert [f.commissionReport.commission for f in seen.fills] == [4.5, 4.5, 4.5]
    assert engine.trades() == []  # client 0 is not the master: it sees nothing of client 5


async def test_per_order_minimum_is_charged_once_across_partial_fills(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(4)
    msft = await qualified(ib, Stock("MSFT", "SMART", "USD"))
    sim.control.set_fill_slices(2)

    trade = ib.placeOrder(msft, MarketOrder("BUY", 100))
    await done(trade)

    assert [f.commissionReport.commission for f in trade.fills] == [1.0, 0.0]  # $1 minimum per order
    assert [f.execution.shares for f in trade.fills] == [50.0, 50.0]


async def test_resting_limit_order_fills_at_its_limit_when_the_price_crosses(
    sim: SimServer, connect: Connect
) -> None:
    master = await connect(MASTER)
    ib = await connect(6)
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.set_price("AAPL", 190.00)

    trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, 188.50, tif="GTC"))
    await wait_until(ib, lambda: trade.orderStatus.status == "Submitted")
    await wait_until(master, lambda: len(master.openTrades()) == 1)
    assert sim.control.executions() == []

    sim.control.set_price("AAPL", 187.00)
    await done(trade)

    assert trade.orderStatus.avgFillPrice == 188.50 and trade.fills[0].execution.price == 188.50
    assert sim.control.positions()["AAPL"].qty == 10


async def test_stop_orders_wait_presubmitted_then_trigger(sim: SimServer, connect: Connect) -> None:
    ib = await connect(8)
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.set_price("AAPL", 190.00)

    stop = ib.placeOrder(aapl, StopOrder("SELL", 5, 185.00))
    stop_limit = ib.placeOrder(aapl, StopLimitOrder("SELL", 5, 183.00, 184.00))
    await wait_until(ib, lambda: stop.orderStatus.status == stop_limit.orderStatus.status == "PreSubmitted")

    sim.control.set_price("AAPL", 183.50)  # through both stops; above the stop-limit's limit
    await done(stop)
    await done(stop_limit)

    assert stop.orderStatus.avgFillPrice == 183.50
    assert stop_limit.orderStatus.avgFillPrice == 183.50


async def test_modify_reprices_a_resting_order_and_it_fills(sim: SimServer, connect: Connect) -> None:
    ib = await connect(9)
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.set_price("AAPL", 190.00)
    trade = ib.placeOrder(aapl, LimitOrder("BUY", 20, 180.00))
    await wait_until(ib, lambda: trade.orderStatus.status == "Submitted")

    trade.order.totalQuantity = 30
    trade.order.lmtPrice = 185.00
    ib.placeOrder(aapl, trade.order)
    await wait_until(ib, lambda: trade.orderStatus.remaining == 30)
    (working,) = sim.control.open_orders()
    assert (working.ticket.total_quantity, working.ticket.lmt_price) == (30, 185.00)

    trade.order.lmtPrice = 190.00  # now marketable: fills at the better mark
    ib.placeOrder(aapl, trade.order)
    await done(trade)
    assert (trade.orderStatus.filled, trade.orderStatus.avgFillPrice) == (30.0, 190.00)


async def test_cancel_sends_cancelled_then_202_to_owner_and_master(sim: SimServer, connect: Connect) -> None:
    master = await connect(MASTER)
    ib = await connect(10)
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, 100.00))
    await wait_until(master, lambda: len(master.openTrades()) == 1)

    ib.cancelOrder(trade.order)
    await done(trade)
    await wait_until(master, lambda: master.trades()[0].orderStatus.status == "Cancelled")

    assert trade.orderStatus.status == "Cancelled"
    assert (trade.order.orderId, 202) in errors
    assert sim.control.open_orders() == []
    assert sim.control.orders()[0].status == "Cancelled"


async def test_rejected_order_gets_201_then_inactive(sim: SimServer, connect: Connect) -> None:
    master = await connect(MASTER)
    ib = await connect(11)
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, *_: errors.append((req_id, code, text))
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.reject_next_order("insufficient buying power")

    trade = ib.placeOrder(aapl, MarketOrder("BUY", 1_000_000))
    await wait_until(
        master, lambda: bool(master.trades()) and master.trades()[0].orderStatus.status == "Inactive"
    )
    await wait_until(ib, lambda: trade.isDone())

    assert (trade.order.orderId, 201, "Order rejected - reason:insufficient buying power") in errors
    assert sim.control.orders()[0].status == "Inactive" and sim.control.executions() == []


async def test_unsupported_order_kinds_are_rejected_not_ignored(sim: SimServer, connect: Connect) -> None:
    ib = await connect(12)
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    trailing = Order(action="BUY", totalQuantity=1, orderType="TRAIL", auxPrice=1.0)
    opg = LimitOrder("BUY", 1, 190.0, tif="OPG")

    trades = [ib.placeOrder(aapl, trailing), ib.placeOrder(aapl, opg)]
    await wait_until(ib, lambda: all(t.isDone() for t in trades))

    assert sorted(errors) == [(trades[0].order.orderId, 201), (trades[1].order.orderId, 201)]


async def test_only_the_owner_can_cancel_and_finished_orders_answer_10148(
    sim: SimServer, connect: Connect
) -> None:
    master = await connect(MASTER)
    owner = await connect(13)
    other = await connect(14)
    codes: dict[int, list[tuple[int, int]]] = {13: [], 14: [], MASTER: []}
    for cid, ib in ((13, owner), (14, other), (MASTER, master)):
        ib.errorEvent += lambda req_id, code, *_, cid=cid: codes[cid].append((req_id, code))
    aapl = await qualified(owner, Stock("AAPL", "SMART", "USD"))
    resting = owner.placeOrder(aapl, LimitOrder("BUY", 10, 100.00))
    await wait_until(master, lambda: len(master.openTrades()) == 1)
    (seen_by_master,) = master.openTrades()

    master.cancelOrder(seen_by_master.order)  # look, no touch
    other.client.cancelOrder(resting.order.orderId)
    await wait_until(master, lambda: bool(codes[MASTER]))
    await wait_until(other, lambda: bool(codes[14]))
    assert codes[MASTER] == [(resting.order.orderId, 10147)]
    assert codes[14] == [(resting.order.orderId, 10147)]
    assert sim.control.open_orders()[0].status == "Submitted"

    filled = owner.placeOrder(aapl, MarketOrder("BUY", 1))
    await done(filled)
    owner.client.cancelOrder(filled.order.orderId)
    owner.client.cancelOrder(9999)
    await wait_until(owner, lambda: len(codes[13]) == 2)
    assert codes[13] == [(filled.order.orderId, 10148), (9999, 10147)]


async def test_global_cancel_cancels_every_client_and_manual_order(sim: SimServer, connect: Connect) -> None:
    master = await connect(MASTER)
    first = await connect(15)
    second = await connect(16)
    aapl = await qualified(first, Stock("AAPL", "SMART", "USD"))
    trades = [
        first.placeOrder(aapl, LimitOrder("BUY", 1, 100.0)),
        second.placeOrder(aapl, LimitOrder("BUY", 2, 101.0)),
    ]
    sim.control.place_manual_order("AAPL", "BUY", 3, "LMT", limit_price=102.0)
    await wait_until(master, lambda: len(master.openTrades()) == 3)

    first.reqGlobalCancel()
    await wait_until(master, lambda: not master.openTrades())
    await wait_until(second, lambda: trades[1].isDone())

    assert [o.status for o in sim.control.orders()] == ["Cancelled"] * 3
    assert trades[1].orderStatus.status == "Cancelled"


async def test_manual_tws_order_reaches_master_and_client_zero_unattributed(
    sim: SimServer, connect: Connect
) -> None:
    master = await connect(MASTER)
    engine = await connect(0)
    strategy = await connect(17)
    sim.control.set_price("SAP", 181.40)

    manual = sim.control.place_manual_order("SAP", "BUY", 50)
    await wait_until(master, lambda: any(f.commissionReport.execId for f in master.fills()))
    await wait_until(engine, lambda: any(f.commissionReport.execId for f in engine.fills()))

    (seen,) = master.trades()
    assert (seen.order.permId, seen.order.orderId, seen.order.orderRef) == (manual.perm_id, 0, "")
    (fill,) = seen.fills
    assert (fill.execution.price, fill.execution.shares, fill.execution.clientId) == (181.40, 50.0, 0)
    assert fill.commissionReport.commission == pytest.approx(4.535)  # 0.05% of EUR 9,070
    assert fill.commissionReport.currency == "EUR"
    assert engine.trades()[0].order.permId == manual.perm_id
    assert strategy.trades() == []


async def test_unknown_contract_answers_200_and_places_nothing(sim: SimServer, connect: Connect) -> None:
    ib = await connect(18)
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append(code)
    trade = ib.placeOrder(Stock("NOPE", "SMART", "USD"), MarketOrder("BUY", 1))
    await wait_until(ib, lambda: trade.isDone())
    assert errors == [200] and sim.control.orders() == []


async def test_ioc_fills_what_it_can_and_cancels_the_rest(sim: SimServer, connect: Connect) -> None:
    ib = await connect(19)
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.set_price("AAPL", 190.0)
    sim.control.set_fill_slices(2)

    partial = ib.placeOrder(aapl, LimitOrder("BUY", 100, 191.0, tif="IOC"))
    missed = ib.placeOrder(aapl, LimitOrder("BUY", 100, 150.0, tif="IOC"))
    await done(partial)
    await done(missed)

    assert (partial.orderStatus.status, partial.orderStatus.filled) == ("Cancelled", 50.0)
    assert (missed.orderStatus.status, missed.orderStatus.filled) == ("Cancelled", 0.0)


async def test_what_if_order_returns_margin_without_trading(sim: SimServer, connect: Connect) -> None:
    ib = await connect(20)
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.set_price("AAPL", 200.0)

    state = await asyncio.wait_for(ib.whatIfOrderAsync(aapl, MarketOrder("BUY", 100)), EVENT_TIMEOUT)

    assert float(state.initMarginChange) == pytest.approx(5000.0)  # 25% of $20,000
    assert sim.control.orders() == [] and sim.control.executions() == []


async def test_fill_latency_delays_each_slice(sim: SimServer, connect: Connect) -> None:
    ib = await connect(21)
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.set_fill_latency(0.05)
    sim.control.set_fill_slices(2)
    loop = asyncio.get_running_loop()

    started = loop.time()
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 10))
    await done(trade)

    assert loop.time() - started >= 0.1  # two slices, 50 ms apart, the first 50 ms after acceptance
    assert [f.execution.shares for f in trade.fills] == [5.0, 5.0]


async def test_off_tick_prices_and_reused_order_ids_are_refused(sim: SimServer, connect: Connect) -> None:
    ib = await connect(22)
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    es = await qualified(ib, Future("ES", exchange="CME"))
    aapl = await qualified(ib, Stock("AAPL", "SMART", "USD"))

    off_tick = ib.placeOrder(es, LimitOrder("BUY", 1, 5000.10))  # ES trades in 0.25 steps
    filled = ib.placeOrder(aapl, MarketOrder("BUY", 1))
    cancelled = ib.placeOrder(aapl, LimitOrder("BUY", 1, 100.0))
    await wait_until(
        ib, lambda: off_tick.isDone() and filled.isDone() and cancelled.orderStatus.status == "Submitted"
    )
    ib.cancelOrder(cancelled.order)
    await wait_until(ib, lambda: cancelled.isDone())
    ib.client.placeOrder(filled.order.orderId, aapl, MarketOrder("BUY", 2))
    ib.client.placeOrder(cancelled.order.orderId, aapl, LimitOrder("BUY", 1, 101.0))
    await wait_until(ib, lambda: len(errors) == 4)

    assert errors == [
        (off_tick.order.orderId, 110),
        (cancelled.order.orderId, 202),
        (filled.order.orderId, 104),
        (cancelled.order.orderId, 103),
    ]
    assert off_tick.orderStatus.status == "Cancelled"
    assert [o.ticket.total_quantity for o in sim.control.orders()] == [1, 1]
