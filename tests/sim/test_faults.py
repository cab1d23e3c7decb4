"""Every fault, seen by real ib_async clients: codes, values, and what stops or keeps working.

The clock is paused: fault durations pass when a test calls `sim.control.advance(seconds)`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ib_async import IB, Contract, Execution, LimitOrder, MarketOrder, Stock, Ticker

from mats.sim import SimServer
from mats.sim.clock import VirtualClock

from .conftest import Connect
from .helpers import EVENT_TIMEOUT, wait_until

START = dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)
REFUSED_TIMEOUT = 0.5


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    clock = VirtualClock(START, running=False)
    async with SimServer(port=0, price_interval=0, account_push_interval=0.01, clock=clock) as server:
        yield server


class Codes:
    """The (reqId, code) errors and notices a client received, in order."""

    def __init__(self, ib: IB) -> None:
        self.seen: list[tuple[int, int]] = []
        ib.errorEvent += lambda req_id, code, *_: self.seen.append((req_id, code))

    @property
    def codes(self) -> list[int]:
        return [code for _, code in self.seen]


async def round_trip(ib: IB) -> None:
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), EVENT_TIMEOUT)


async def aapl_of(ib: IB) -> Contract:
    (aapl,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(aapl, Contract)
    return aapl


async def streaming(ib: IB, sim: SimServer, contract: Contract) -> Ticker:
    ticker = ib.reqMktData(contract)
    await wait_until(ib, lambda: ticker.last == sim.control.price(contract.symbol))
    return ticker


@pytest.mark.ib_client_errors_expected  # ib_async logs the Gateway closing its socket
async def test_restart_refuses_the_port_fills_resting_orders_and_delivers_them_on_reconnect(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(7)
    aapl = await aapl_of(ib)
    sim.control.set_price("AAPL", 190.0)
    resting = ib.placeOrder(aapl, LimitOrder("BUY", 10, 185.0, tif="GTC", orderRef="mats:r:1"))
    await wait_until(ib, lambda: resting.orderStatus.status == "Submitted")
    port = sim.port

    await sim.control.faults.restart(down=30)
    await wait_until(ib, lambda: not ib.isConnected())
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    sim.control.set_price("AAPL", 184.0)  # the resting order fills while the Gateway is down
    assert [f.execution.price for f in sim.control.executions()] == [185.0]
    sim.control.advance(29)
    assert sim.control.faults.down
    sim.control.advance(1)
    await asyncio.wait_for(sim.control.faults.wait_up(), EVENT_TIMEOUT)

    again = await connect(7)
    assert sim.port == port
    executions = await asyncio.wait_for(again.reqExecutionsAsync(), EVENT_TIMEOUT)
    assert [(f.execution.orderRef, f.execution.price, f.execution.shares) for f in executions] == [
        ("mats:r:1", 185.0, 10.0)
    ]
    assert [f.commissionReport.commission for f in again.fills()] == [1.0]
    assert {p.contract.symbol: p.position for p in again.positions()} == {"AAPL": 10.0}


async def test_nightly_reset_with_data_kept_pauses_then_resumes_the_streams(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(1)
    codes = Codes(ib)
    aapl = await aapl_of(ib)
    ticker = await streaming(ib, sim, aapl)
    resting = ib.placeOrder(aapl, LimitOrder("SELL", 10, 191.0, tif="GTC"))
    await wait_until(ib, lambda: resting.orderStatus.status == "Submitted")

    sim.control.faults.reset(duration=60, data_lost=False)
    await wait_until(ib, lambda: len(codes.codes) == 4)
    assert codes.codes == [1100, 2103, 2105, 2157]
    sim.control.set_price("AAPL", 191.0)  # no ticks while the farms are down; the order fills…
    await round_trip(ib)
    assert ticker.last == 190.0
    assert len(sim.control.executions()) == 1 and resting.fills == []  # …but its execution is held

    sim.control.advance(60)
    await wait_until(ib, lambda: len(codes.codes) == 8)
    assert codes.codes[4:] == [1102, 2104, 2106, 2158]
    await wait_until(ib, lambda: resting.orderStatus.status == "Filled")
    assert [f.execution.price for f in resting.fills] == [191.0]
    sim.control.set_price("AAPL", 192.0)
    await wait_until(ib, lambda: ticker.last == 192.0)


async def test_nightly_reset_with_data_lost_silently_drops_every_stream(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(1)
    codes = Codes(ib)
    aapl = await aapl_of(ib)
    ticker = await streaming(ib, sim, aapl)
    bars = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
    minutes = await ib.reqHistoricalDataAsync(aapl, "", "600 S", "1 min", "TRADES", False, keepUpToDate=True)
    sim.control.advance(10)
    await wait_until(ib, lambda: len(bars) == 2)

    sim.control.faults.reset(duration=30, data_lost=True, bar_updates_lost=True)
    sim.control.advance(30)
    await wait_until(ib, lambda: 1101 in codes.codes)
    assert codes.seen[:4] == [(-1, 1100), (-1, 2103), (-1, 2105), (-1, 2157)]
    assert codes.seen[4] == (minutes.reqId, 10182)
    assert codes.codes[5:] == [1101, 2104, 2106, 2158]
    sim.control.set_price("AAPL", 195.0)
    sim.control.advance(60)
    await round_trip(ib)
    assert ticker.last == 190.0 and len(bars) == 2  # nothing more, and no error said so

    again = ib.reqMktData(aapl, snapshot=False)  # re-subscribing is the cure
    await wait_until(ib, lambda: again.last == 195.0)


async def test_farm_flap_kills_keep_up_to_date_with_10182_while_ticks_come_back(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(2)
    codes = Codes(ib)
    aapl = await aapl_of(ib)
    ticker = await streaming(ib, sim, aapl)
    bars = await ib.reqHistoricalDataAsync(aapl, "", "600 S", "1 min", "TRADES", False, keepUpToDate=True)
    count = len(bars)

    sim.control.faults.farm_flap(duration=5)
    await wait_until(ib, lambda: 10182 in codes.codes)
    assert codes.seen == [(-1, 2103), (-1, 2105), (bars.reqId, 10182)]
    sim.control.advance(5)
    await wait_until(ib, lambda: len(codes.codes) == 5)
    assert codes.codes[3:] == [2104, 2106]

    sim.control.set_price("AAPL", 193.0)
    sim.control.advance(120)
    await wait_until(ib, lambda: ticker.last == 193.0)
    assert len(bars) == count  # the keepUpToDate stream stays dead until re-requested


async def test_dropped_and_delayed_end_markers(sim: SimServer, connect: Connect) -> None:
    ib = await connect(3)
    aapl = await aapl_of(ib)
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 5))
    await wait_until(ib, trade.isDone)

    sim.control.faults.drop_end_marker("execDetailsEnd", times=1)
    with pytest.raises(TimeoutError):  # as with TWS 10.30: the request never ends
        await asyncio.wait_for(ib.reqExecutionsAsync(), 0.3)

    sim.control.faults.delay_end_marker("execDetailsEnd", seconds=10)
    pending = asyncio.ensure_future(ib.reqExecutionsAsync())
    await round_trip(ib)
    assert not pending.done()
    sim.control.advance(10)
    fills = await asyncio.wait_for(pending, EVENT_TIMEOUT)
    assert [f.execution.shares for f in fills] == [5.0]
    sim.control.faults.clear()
    assert len(await asyncio.wait_for(ib.reqExecutionsAsync(), EVENT_TIMEOUT)) == 1


async def test_late_commission_reports(sim: SimServer, connect: Connect) -> None:
    ib = await connect(4)
    aapl = await aapl_of(ib)
    sim.control.faults.delay_commission_reports(5)
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 300))
    await wait_until(ib, trade.isDone)
    await round_trip(ib)
    (fill,) = trade.fills
    assert fill.commissionReport.execId == ""  # the fill came, its commission not yet

    sim.control.advance(5)
    await wait_until(ib, lambda: fill.commissionReport.execId == fill.execution.execId)
    assert fill.commissionReport.commission == 1.5


async def test_duplicate_and_corrected_executions(sim: SimServer, connect: Connect) -> None:
    ib = await connect(5)
    aapl = await aapl_of(ib)
    raw: list[Execution] = []
    original = ib.wrapper.execDetails

    def spy(req_id: int, contract: Contract, execution: Execution) -> None:
        raw.append(execution)
        original(req_id, contract, execution)

    ib.wrapper.execDetails = spy  # type: ignore[method-assign]
    sim.control.faults.duplicate_executions(1)
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 100))
    await wait_until(ib, trade.isDone)
    await round_trip(ib)
    assert [e.execId for e in raw] == [trade.fills[0].execution.execId] * 2  # the same execution twice
    assert len(trade.fills) == 1  # ib_async keys fills by execId

    first = trade.fills[0].execution.execId
    corrected = sim.control.faults.correct_execution(first, price=190.5, quantity=90)
    assert corrected == first[:-2] + "02"
    await wait_until(ib, lambda: len(trade.fills) == 2)
    revision = trade.fills[1].execution
    assert (revision.execId, revision.price, revision.shares) == (corrected, 190.5, 90.0)
    await wait_until(ib, lambda: trade.fills[1].commissionReport.execId == corrected)
    again = await asyncio.wait_for(ib.reqExecutionsAsync(), EVENT_TIMEOUT)
    assert [f.execution.execId for f in again] == [corrected]
    position = sim.control.positions()["AAPL"]
    assert (position.qty, position.avg_cost) == (90, 190.5)
    await wait_until(ib, lambda: [p.position for p in ib.positions()] == [90.0])


@pytest.mark.ib_client_errors_expected  # ib_async logs the refused connection
async def test_client_id_lingers_after_a_disconnect(sim: SimServer, connect: Connect) -> None:
    sim.control.faults.linger_client_ids(20)
    first = await connect(6)
    first.disconnect()
    retry = IB()
    codes = Codes(retry)
    with pytest.raises(TimeoutError):  # ib_async shows a refused clientId only as a timeout
        await retry.connectAsync("127.0.0.1", sim.port, clientId=6, timeout=REFUSED_TIMEOUT)
    assert codes.codes == [326]

    sim.control.advance(20)
    await asyncio.wait_for(sim.control.wait_disconnected(6), EVENT_TIMEOUT)
    later = await connect(6)
    assert later.isConnected()


async def test_pacing_errors_only_with_the_flag(sim: SimServer, connect: Connect) -> None:
    ib = await connect(8)
    codes = Codes(ib)
    aapl = await aapl_of(ib)
    ib.client.MaxRequests = 0  # switch ib_async's own 45/s throttle off
    for _ in range(60):
        ib.client.reqCurrentTime()
    await round_trip(ib)
    assert codes.codes == []  # pacing is off by default

    sim.control.faults.set_pacing(True)
    for _ in range(60):
        ib.client.reqCurrentTime()
    await wait_until(ib, lambda: 100 in codes.codes)
    assert codes.codes.count(100) >= 9

    await asyncio.sleep(1.05)  # the message window is wall time: let it drain
    codes.seen.clear()
    for i in range(6):  # six requests for one contract within two (virtual) seconds
        await ib.reqHistoricalDataAsync(aapl, "", f"{i + 1} D", "1 hour", "TRADES", False)
    same = await ib.reqHistoricalDataAsync(aapl, "", "1 D", "1 hour", "TRADES", False)
    assert codes.codes == [162, 162] and list(same) == []  # the 6th, then an identical repeat

    sim.control.advance(600)
    for _ in range(40):  # 61 new real-time-bar subscriptions within ten (virtual) minutes
        ib.reqRealTimeBars(aapl, 5, "MIDPOINT", False)
    await round_trip(ib)
    await asyncio.sleep(1.05)  # stay under 50 messages per wall second
    for _ in range(21):
        ib.reqRealTimeBars(aapl, 5, "MIDPOINT", False)
    await wait_until(ib, lambda: 420 in codes.codes)
    assert codes.codes[2:] == [420]


async def test_split_changes_the_position_without_an_execution(sim: SimServer, connect: Connect) -> None:
    ib = await connect(9)
    aapl = await aapl_of(ib)
    sim.control.set_price("AAPL", 200.0)
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 100))
    await wait_until(ib, lambda: [p.position for p in ib.positions()] == [100.0])
    assert trade.isDone()

    sim.control.faults.split("AAPL", 4)
    await wait_until(ib, lambda: [p.position for p in ib.positions()] == [400.0])
    (position,) = ib.positions()
    assert position.avgCost == 50.0 and sim.control.price("AAPL") == 50.0
    assert len(sim.control.executions()) == 1 and len(ib.fills()) == 1

    sim.control.faults.set_position("AAPL", 350)  # shares moved out with no trade: a reconciliation break
    await wait_until(ib, lambda: [p.position for p in ib.positions()] == [350.0])


async def http(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = json.dumps(body).encode() if body is not None else b""
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload
    )
    raw = await asyncio.wait_for(reader.read(), EVENT_TIMEOUT)
    writer.close()
    head, _, text = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(text)


@pytest.mark.ib_client_errors_expected  # the restart closes the client's socket
async def test_admin_endpoint_triggers_faults_and_drives_the_clock() -> None:
    clock = VirtualClock(START, running=False)
    async with SimServer(port=0, price_interval=0, clock=clock, admin_port=0) as sim:
        ib = IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=1, timeout=2)
        codes = Codes(ib)
        admin = sim.admin.port
        try:
            status, state = await http(admin, "GET", "/status")
            assert status == 200 and state["clients"] == [1] and state["now"].startswith("2026-11-23T14:30")
            assert (await http(admin, "POST", "/faults/reset", {"duration": 5}))[0] == 200
            await wait_until(ib, lambda: 1100 in codes.codes)
            assert (await http(admin, "POST", "/control/advance", {"seconds": 5}))[0] == 200
            await wait_until(ib, lambda: 1102 in codes.codes)
            assert (await http(admin, "POST", "/control/set_price", {"symbol": "AAPL", "price": 150}))[
                0
            ] == 200
            assert sim.control.price("AAPL") == 150.0

            assert (await http(admin, "POST", "/faults/restart", {"down": 10}))[0] == 200
            await wait_until(ib, lambda: not ib.isConnected())
            assert (await http(admin, "GET", "/faults"))[1]["down"] is True
            assert (await http(admin, "POST", "/faults/up"))[0] == 200
            await ib.connectAsync("127.0.0.1", sim.port, clientId=1, timeout=2)

            assert (await http(admin, "POST", "/faults/nonsense"))[0] == 404
            assert (await http(admin, "POST", "/faults/reset", {"bogus": 1}))[0] == 400
        finally:
            ib.disconnect()
