"""Wire-format round trips against ib_async itself, at server versions 176 and 178, with no socket.

Simulator → client: frames the simulator encodes go through ib_async's own `Client` byte handler and
`Decoder`. Client → simulator: what ib_async's `Client` encoder sends goes through the simulator's parser.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from ib_async import (
    Contract,
    ExecutionFilter,
    Forex,
    Future,
    LimitOrder,
    MarketOrder,
    Order,
    Stock,
    StopOrder,
)
from ib_async.client import Client
from ib_async.objects import TagValue

from mats.sim import outbound as out
from mats.sim.codec import (
    UNSET_DOUBLE,
    FrameReader,
    ProtocolError,
    encode,
    frame,
    parse_handshake,
)
from mats.sim.contracts import ContractBook, ContractQuery, default_contracts
from mats.sim.inbound import (
    CancelOrder,
    CancelSubscription,
    ReqAccountUpdatesMulti,
    ReqCompletedOrders,
    ReqContractDetails,
    ReqExecutions,
    ReqHeadTimeStamp,
    ReqHistoricalData,
    ReqMktData,
    ReqPnL,
    ReqRealTimeBars,
    StartApi,
    parse_request,
)
from mats.sim.orders import CommissionReport, Execution, OrderTicket, SimOrder, Status

VERSIONS = [176, 178]
BOOK = ContractBook(default_contracts(dt.date(2026, 11, 23)))
AAPL = BOOK.by_symbol("AAPL")
ES = BOOK.by_symbol("ES")


class Recorder:
    """A stand-in ib_async wrapper that records every callback the decoder makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.ib = SimpleNamespace(TimezoneTWS=None)
        self.defaultTimezone = dt.UTC

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for called, args in self.calls if called == name]


def feed_ib_async(data: bytes, server_version: int, api_ready: bool = True) -> Recorder:
    """Push bytes through ib_async's own framing, snooping and decoding, as off a socket."""
    recorder = Recorder()
    client = Client(recorder)
    client._serverVersion = server_version
    client.decoder.serverVersion = server_version
    client._apiReady = api_ready
    client._onSocketHasData(data)
    return recorder


def sent_by_ib_async(server_version: int, call: Callable[[Client], None]) -> list[list[str]]:
    """The messages (as field lists) ib_async's encoder produces for one call."""
    client = Client(Recorder())
    client.connState = Client.CONNECTED
    client._serverVersion = server_version
    sent: list[str] = []
    client.sendMsg = sent.append  # type: ignore[method-assign]
    call(client)
    return [message.split("\0")[:-1] for message in sent]


def payload_fields(data: bytes) -> list[str]:
    (size,) = struct.unpack(">I", data[:4])
    return data[4 : 4 + size].decode().split("\0")[:-1]


def sample_order(status: Status = Status.SUBMITTED, filled: int = 0) -> SimOrder:
    ticket = OrderTicket(
        action="BUY",
        total_quantity=Decimal(100),
        order_type="LMT",
        lmt_price=189.5,
        tif="GTC",
        account="DU0000001",
        order_ref="mats:sma:01J",
    )
    order = SimOrder(7, 12, 1_234_567, AAPL, ticket, status=status, filled=Decimal(filled))
    order.avg_fill_price = 189.5 if filled else 0.0
    order.commission = 1.0 if filled else 0.0
    order.completed_status = f"Filled Size: {filled}" if filled else ""
    order.completed_time = "20261123 15:00:00 UTC" if filled else ""
    return order


# ------------------------------------------------------------------ framing and handshake


def test_handshake_parses_ib_async_bytes_with_and_without_pace_api() -> None:
    plain = b"API\0" + frame(b"v157..178")
    paced = b"API\0" + frame(b"v157..178 +PACEAPI")
    for raw, options in ((plain, ""), (paced, "+PACEAPI")):
        parsed = parse_handshake(raw + b"\0\0\0\x05extra")
        assert parsed is not None
        handshake, used = parsed
        assert (handshake.min_version, handshake.max_version, handshake.options) == (157, 178, options)
        assert used == len(raw)


def test_handshake_waits_for_every_byte_before_answering() -> None:
    raw = b"API\0" + frame(b"v157..176")
    for end in range(len(raw)):
        assert parse_handshake(raw[:end]) is None
    parsed = parse_handshake(raw)
    assert parsed is not None and parsed[0].max_version == 176


@pytest.mark.parametrize(
    "raw",
    [b"GET / HTTP/1.1\r\n", b"API\0" + frame(b"hello"), b"API\0" + struct.pack(">I", 1 << 30)],
)
def test_handshake_rejects_what_is_not_a_tws_client(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_handshake(raw)


def test_frame_reader_splits_coalesced_and_partial_frames() -> None:
    stream = encode([49, 1]) + encode(["9", "1", "42"]) + encode([4, 2, -1, 2104, "ok", ""])
    reader = FrameReader()
    messages = []
    for i in range(0, len(stream), 3):
        messages += reader.feed(stream[i : i + 3])
    assert messages == [["49", "1"], ["9", "1", "42"], ["4", "2", "-1", "2104", "ok", ""]]
    assert reader.pending_bytes == 0


def test_frame_reader_refuses_an_oversized_length_before_buffering_it() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        FrameReader(max_frame=1024).feed(struct.pack(">I", 4096) + b"x")


# ------------------------------------------------------------- simulator → ib_async


@pytest.mark.parametrize("sv", VERSIONS)
def test_connect_replies_have_the_exact_field_counts_ib_async_unpacks(sv: int) -> None:
    data = encode(out.managed_accounts(["DU0000001"])) + encode(out.next_valid_id(17))
    recorder = feed_ib_async(data, sv, api_ready=False)
    assert recorder.named("managedAccounts") == [("DU0000001",)]
    assert recorder.named("nextValidId") == [(17,)]


@pytest.mark.parametrize("sv", VERSIONS)
def test_open_order_and_status_decode_field_for_field(sv: int) -> None:
    view = sample_order().view()
    fields = out.open_order(view, sv)
    assert len(payload_fields(encode(fields))) == (127 if sv >= 177 else 128)
    recorder = feed_ib_async(encode(fields) + encode(out.order_status(view)), sv)
    ((order_id, contract, order, state),) = recorder.named("openOrder")
    assert order_id == 12
    assert (contract.conId, contract.symbol, contract.secType, contract.currency) == (
        265598,
        "AAPL",
        "STK",
        "USD",
    )
    assert (order.action, order.totalQuantity, order.orderType, order.lmtPrice) == (
        "BUY",
        100.0,
        "LMT",
        189.5,
    )
    assert (order.tif, order.account, order.orderRef, order.clientId, order.permId) == (
        "GTC",
        "DU0000001",
        "mats:sma:01J",
        7,
        1_234_567,
    )
    assert order.auxPrice == UNSET_DOUBLE and order.exemptCode == -1
    assert state.status == "Submitted" and state.commission == UNSET_DOUBLE
    ((status_args),) = recorder.named("orderStatus")
    assert status_args[:6] == (12, "Submitted", 0.0, 100.0, 0.0, 1_234_567)
    assert status_args[8] == 7  # clientId


@pytest.mark.parametrize("sv", VERSIONS)
def test_filled_open_order_carries_commission_and_what_if_carries_numeric_margins(sv: int) -> None:
    filled = sample_order(Status.FILLED, filled=100).view()
    what_if = out.open_order(sample_order(Status.PRE_SUBMITTED).view(), sv, margins=(4737.5, 3790.0, -1.0))
    recorder = feed_ib_async(encode(out.open_order(filled, sv)) + encode(what_if), sv)
    (first, second) = recorder.named("openOrder")
    assert first[3].status == "Filled" and first[3].commission == 1.0 and first[3].commissionCurrency == "USD"
    assert second[2].whatIf is True
    assert float(second[3].initMarginChange) == 4737.5 and float(second[3].equityWithLoanChange) == -1.0


@pytest.mark.parametrize("sv", VERSIONS)
def test_completed_order_decodes_with_perm_id_and_completion(sv: int) -> None:
    fields = out.completed_order(sample_order(Status.FILLED, filled=100).view(), sv)
    assert len(payload_fields(encode(fields))) == (96 if sv >= 177 else 97)
    ((contract, order, state),) = feed_ib_async(encode(fields), sv).named("completedOrder")
    assert contract.conId == 265598 and order.orderId == 0 and order.permId == 1_234_567
    assert (order.orderRef, order.filledQuantity, order.totalQuantity) == ("mats:sma:01J", 100.0, 100.0)
    assert (state.status, state.completedStatus) == ("Filled", "Filled Size: 100")
    assert state.completedTime == "20261123 15:00:00 UTC"


@pytest.mark.parametrize("sv", VERSIONS)
def test_execution_and_commission_report_decode_and_join_on_exec_id(sv: int) -> None:
    execution = Execution(
        exec_id="0000e0d5.65000001.01.01",
        time="20261123 15:00:01 UTC",
        account="DU0000001",
        exchange="CME",
        side="SLD",
        shares=Decimal(2),
        price=5012.25,
        perm_id=99,
        client_id=3,
        order_id=41,
        cum_qty=Decimal(2),
        avg_price=5012.25,
        order_ref="mats:es:1",
        contract=ES,
    )
    opening = CommissionReport(execution.exec_id, 4.5, "USD", None)
    closing = CommissionReport(execution.exec_id, 4.5, "USD", 120.5)
    fields = out.exec_details(-1, execution, sv)
    assert len(payload_fields(encode(fields))) == (32 if sv >= 178 else 31)
    data = encode(fields) + encode(out.commission_report(opening)) + encode(out.commission_report(closing))
    recorder = feed_ib_async(data, sv)
    ((req_id, contract, ex),) = recorder.named("execDetails")
    assert req_id == -1 and contract.conId == ES.con_id and contract.multiplier == "50"
    assert (ex.execId, ex.side, ex.shares, ex.price, ex.permId, ex.clientId, ex.orderId) == (
        "0000e0d5.65000001.01.01",
        "SLD",
        2.0,
        5012.25,
        99,
        3,
        41,
    )
    assert (ex.cumQty, ex.avgPrice, ex.orderRef) == (2.0, 5012.25, "mats:es:1")
    assert ex.time == dt.datetime(2026, 11, 23, 15, 0, 1, tzinfo=dt.UTC)
    (first, second) = recorder.named("commissionReport")
    assert (first[0].commission, first[0].currency, first[0].realizedPNL) == (4.5, "USD", UNSET_DOUBLE)
    assert second[0].realizedPNL == 120.5


@pytest.mark.parametrize("sv", VERSIONS)
def test_position_portfolio_account_and_pnl_messages_decode(sv: int) -> None:
    data = b"".join(
        encode(f)
        for f in (
            out.position("DU0000001", ES, Decimal(-3), 250_612.5),
            out.position_multi(5, "DU0000001", AAPL, Decimal(10), 190.0),
            out.portfolio_value(AAPL, Decimal(10), 191.0, 1910.0, 190.0, 10.0, 0.0, "DU0000001"),
            out.account_value("NetLiquidation", "1000010.00", "USD", "DU0000001"),
            out.account_update_multi(6, "DU0000001", "CashBalance", "998100.00", "USD"),
            out.pnl(7, 10.0, 10.0, 0.0),
            out.pnl_single(8, Decimal(10), 10.0, 10.0, 0.0, 1910.0),
            out.error(-1, 2104, "Market data farm connection is OK:usfarm"),
        )
    )
    recorder = feed_ib_async(data, sv)
    ((account, contract, qty, avg_cost),) = recorder.named("position")
    assert (account, contract.localSymbol, qty, avg_cost) == ("DU0000001", ES.local_symbol, -3.0, 250_612.5)
    ((req_id, _account, _model, multi_contract, multi_qty, multi_cost),) = recorder.named("positionMulti")
    assert (req_id, multi_contract.conId, multi_qty, multi_cost) == (5, 265598, 10.0, 190.0)
    ((contract, qty, price, value, cost, unrealized, realized, acct),) = recorder.named("updatePortfolio")
    assert (contract.primaryExchange, qty, price, value, cost, unrealized, realized, acct) == (
        "NASDAQ",
        10.0,
        191.0,
        1910.0,
        190.0,
        10.0,
        0.0,
        "DU0000001",
    )
    assert recorder.named("updateAccountValue") == [("NetLiquidation", "1000010.00", "USD", "DU0000001")]
    assert recorder.named("accountUpdateMulti") == [(6, "DU0000001", "", "CashBalance", "998100.00", "USD")]
    assert recorder.named("pnl") == [(7, 10.0, 10.0, 0.0)]
    assert recorder.named("pnlSingle") == [(8, 10.0, 10.0, 10.0, 0.0, 1910.0)]
    assert recorder.named("error") == [(-1, 2104, "Market data farm connection is OK:usfarm", "")]


@pytest.mark.parametrize("sv", VERSIONS)
def test_contract_details_decode_for_every_built_in_contract(sv: int) -> None:
    data = b"".join(encode(out.contract_details(3, spec, dt.date(2026, 11, 23))) for spec in BOOK)
    details = [
        args[1]
        for args in feed_ib_async(data + encode(out.contract_details_end(3)), sv).named("contractDetails")
    ]
    assert [d.contract.conId for d in details] == [s.con_id for s in BOOK]
    es = details[[s.symbol for s in BOOK].index("ES")]
    assert (es.contract.lastTradeDateOrContractMonth, es.contract.multiplier, es.minTick) == (
        "20261218",
        "50",
        0.25,
    )
    assert es.contractMonth == "202612" and es.marketRuleIds == "67"
    aapl = details[0]
    assert aapl.longName == "APPLE INC" and aapl.contract.primaryExchange == "NASDAQ"
    assert aapl.tradingHours.startswith("20261123:0400-20261123:2000")


# ------------------------------------------------------------- ib_async → simulator


@pytest.mark.parametrize("sv", VERSIONS)
def test_place_order_round_trip_keeps_every_field_the_simulator_acts_on(sv: int) -> None:
    contract = Stock("AAPL", "SMART", "USD")
    contract.conId = 265598
    order = LimitOrder("SELL", 25, 191.25, tif="GTC", orderRef="mats:mean_rev:01J9", account="DU0000001")
    order.outsideRth = True
    ((fields),) = sent_by_ib_async(sv, lambda c: c.placeOrder(31, contract, order))
    placed = parse_request(fields, sv)
    assert placed.__class__.__name__ == "PlaceOrder"
    assert placed.order_id == 31 and placed.contract.con_id == 265598  # type: ignore[union-attr]
    t = placed.ticket  # type: ignore[union-attr]
    assert (t.action, t.total_quantity, t.order_type, t.lmt_price, t.tif) == (
        "SELL",
        Decimal(25),
        "LMT",
        191.25,
        "GTC",
    )
    assert (t.order_ref, t.account, t.outside_rth, t.transmit, t.what_if) == (
        "mats:mean_rev:01J9",
        "DU0000001",
        True,
        True,
        False,
    )
    assert t.aux_price == UNSET_DOUBLE and t.unsupported == ""


@pytest.mark.parametrize("sv", VERSIONS)
def test_stop_what_if_and_unsupported_orders_parse(sv: int) -> None:
    es = Future("ES", "202612", "CME")
    stop = StopOrder("BUY", 2, 5100.25)
    what_if = MarketOrder("BUY", 1)
    what_if.whatIf = True
    algo = LimitOrder(
        "BUY", 1, 5000.0, algoStrategy="Adaptive", algoParams=[TagValue("adaptivePriority", "Normal")]
    )
    fields = sent_by_ib_async(
        sv, lambda c: (c.placeOrder(1, es, stop), c.placeOrder(2, es, what_if), c.placeOrder(3, es, algo))
    )
    parsed = [parse_request(f, sv).ticket for f in fields]  # type: ignore[union-attr]
    assert (parsed[0].order_type, parsed[0].aux_price, parsed[0].unsupported) == ("STP", 5100.25, "")
    assert parsed[1].what_if is True
    assert "algo" in parsed[2].unsupported


@pytest.mark.parametrize("sv", VERSIONS)
def test_requests_ib_async_sends_on_connect_and_after_parse(sv: int) -> None:
    flt = ExecutionFilter(clientId=7, symbol="AAPL", side="BUY")

    def calls(c: Client) -> None:
        c.clientId = 7
        c.startApi()
        c.reqExecutions(4, flt)
        c.reqContractDetails(5, Forex("EURUSD"))
        c.reqAccountUpdatesMulti(6, "DU0000001", "", False)
        c.reqPnLSingle(7, "DU0000001", "", 265598)
        c.reqCompletedOrders(False)
        c.cancelOrder(31, "")
        c.reqMktData(8, Contract(conId=265598), "", True, False, [])
        c.reqHistoricalData(9, Contract(conId=265598), "", "1 D", "1 min", "TRADES", True, 1, False, [])
        c.reqRealTimeBars(10, Contract(conId=265598), 5, "MIDPOINT", False, [])
        c.reqHeadTimeStamp(11, Contract(conId=265598), "TRADES", True, 2)
        c.reqHistoricalData(12, Contract(conId=265598), "", "2 D", "1 hour", "MIDPOINT", False, 2, True, [])
        c.cancelMktData(8)

    parsed = [parse_request(f, sv) for f in sent_by_ib_async(sv, calls)]
    assert parsed[0] == StartApi(7, "")
    assert isinstance(parsed[1], ReqExecutions) and parsed[1].req_id == 4
    assert (parsed[1].filter.client_id, parsed[1].filter.symbol, parsed[1].filter.side) == (7, "AAPL", "BUY")
    assert isinstance(parsed[2], ReqContractDetails)
    assert (parsed[2].req_id, parsed[2].contract.symbol, parsed[2].contract.sec_type) == (5, "EUR", "CASH")
    assert parsed[3] == ReqAccountUpdatesMulti(6, "DU0000001", "")
    assert parsed[4] == ReqPnL(7, "DU0000001", "", 265598)
    assert parsed[5] == ReqCompletedOrders(False)
    assert parsed[6] == CancelOrder(31)
    assert parsed[7] == ReqMktData(8, ContractQuery(con_id=265598), "", True)
    assert parsed[8] == ReqHistoricalData(
        9, ContractQuery(con_id=265598), "", "1 min", "1 D", True, "TRADES", 1, False
    )
    assert parsed[9] == ReqRealTimeBars(10, ContractQuery(con_id=265598), 5, "MIDPOINT", False)
    assert parsed[10] == ReqHeadTimeStamp(11, ContractQuery(con_id=265598), "TRADES", 2)
    assert parsed[11] == ReqHistoricalData(
        12, ContractQuery(con_id=265598), "", "1 hour", "2 D", False, "MIDPOINT", 2, True
    )
    assert parsed[12] == CancelSubscription(2, 8)


def test_default_order_from_ib_async_is_not_mistaken_for_a_scale_or_hedge_order() -> None:
    """An empty ib_async Order exercises every conditional block's 'absent' branch."""
    ((fields),) = sent_by_ib_async(178, lambda c: c.placeOrder(1, Contract(conId=265598), Order()))
    ticket = parse_request(fields, 178).ticket  # type: ignore[union-attr]
    assert ticket.unsupported == "" and ticket.cash_qty == UNSET_DOUBLE and ticket.tif == "DAY"
