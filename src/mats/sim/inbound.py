"""Client → server messages: typed requests parsed from fields at the negotiated server version.

Field orders follow ib_async's `Client` encoder (the reference for behaviour). Requests the simulator
does not implement become `Unsupported`, which still names the reqId so the session can answer it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .codec import UNSET_DOUBLE, FieldReader, MalformedMessage
from .contracts import ContractQuery
from .orders import OrderTicket


@dataclass(frozen=True, slots=True)
class StartApi:
    client_id: int
    optional_capabilities: str


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    order_id: int
    contract: ContractQuery
    ticket: OrderTicket


@dataclass(frozen=True, slots=True)
class CancelOrder:
    order_id: int


@dataclass(frozen=True, slots=True)
class ReqOpenOrders:
    all_clients: bool


@dataclass(frozen=True, slots=True)
class ReqAutoOpenOrders:
    auto_bind: bool


@dataclass(frozen=True, slots=True)
class ReqAccountUpdates:
    subscribe: bool
    account: str


@dataclass(frozen=True, slots=True)
class ExecFilter:
    client_id: int = 0
    account: str = ""
    time: str = ""
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    side: str = ""


@dataclass(frozen=True, slots=True)
class ReqExecutions:
    req_id: int
    filter: ExecFilter


@dataclass(frozen=True, slots=True)
class ReqIds:
    count: int


@dataclass(frozen=True, slots=True)
class ReqContractDetails:
    req_id: int
    contract: ContractQuery


@dataclass(frozen=True, slots=True)
class ReqManagedAccounts:
    pass


@dataclass(frozen=True, slots=True)
class ReqCurrentTime:
    pass


@dataclass(frozen=True, slots=True)
class ReqGlobalCancel:
    pass


@dataclass(frozen=True, slots=True)
class ReqMarketDataType:
    market_data_type: int


@dataclass(frozen=True, slots=True)
class ReqPositions:
    subscribe: bool


@dataclass(frozen=True, slots=True)
class ReqAccountSummary:
    req_id: int
    group: str
    tags: str


@dataclass(frozen=True, slots=True)
class ReqPositionsMulti:
    req_id: int
    account: str
    model_code: str


@dataclass(frozen=True, slots=True)
class ReqAccountUpdatesMulti:
    req_id: int
    account: str
    model_code: str


@dataclass(frozen=True, slots=True)
class ReqPnL:
    req_id: int
    account: str
    model_code: str
    con_id: int = 0  # non-zero: reqPnLSingle


@dataclass(frozen=True, slots=True)
class CancelSubscription:
    """Any cancel* message keyed by reqId (account summary, multi, PnL, market data…)."""

    msg_id: int
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqCompletedOrders:
    api_only: bool


@dataclass(frozen=True, slots=True)
class ReqMatchingSymbols:
    req_id: int
    pattern: str


@dataclass(frozen=True, slots=True)
class ReqMarketRule:
    rule_id: int


@dataclass(frozen=True, slots=True)
class ReqMktData:
    req_id: int
    contract: ContractQuery
    generic_ticks: str
    snapshot: bool


@dataclass(frozen=True, slots=True)
class ReqHistoricalData:
    req_id: int
    contract: ContractQuery
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


@dataclass(frozen=True, slots=True)
class ReqRealTimeBars:
    req_id: int
    contract: ContractQuery
    bar_size: int
    what_to_show: str
    use_rth: bool


@dataclass(frozen=True, slots=True)
class ReqHeadTimeStamp:
    req_id: int
    contract: ContractQuery
    what_to_show: str
    format_date: int


@dataclass(frozen=True, slots=True)
class Ignored:
    """A message that needs no answer (a cancel of something never started, a log level…)."""

    msg_id: int


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A request the simulator does not implement; `req_id` None when the request carries none."""

    msg_id: int
    req_id: int | None
    snapshot: bool = False


Request = (
    StartApi
    | PlaceOrder
    | CancelOrder
    | ReqOpenOrders
    | ReqAutoOpenOrders
    | ReqAccountUpdates
    | ReqExecutions
    | ReqIds
    | ReqContractDetails
    | ReqManagedAccounts
    | ReqCurrentTime
    | ReqGlobalCancel
    | ReqMarketDataType
    | ReqPositions
    | ReqAccountSummary
    | ReqPositionsMulti
    | ReqAccountUpdatesMulti
    | ReqPnL
    | CancelSubscription
    | ReqCompletedOrders
    | ReqMatchingSymbols
    | ReqMarketRule
    | ReqMktData
    | ReqHistoricalData
    | ReqRealTimeBars
    | ReqHeadTimeStamp
    | Ignored
    | Unsupported
)

#: Messages that carry no version field at sv 178 (all others have it as their second field).
_UNVERSIONED = frozenset({3, 20, 22, *range(78, 105)})
#: Cancels and settings: nothing to answer.
_IGNORED = frozenset({11, 13, 14, 23, 53, 56, 57, 65, 66, 72, 73, 89, 90, 98, 101, 103})
#: Cancels of subscriptions the session tracks by reqId (market data, bars, account summary, PnL…).
_CANCELS = frozenset({2, 25, 51, 63, 75, 77, 93, 95})


def read_contract(r: FieldReader) -> ContractQuery:
    """The 12-field contract block every request uses."""
    return ContractQuery(
        con_id=r.integer(),
        symbol=r.text(),
        sec_type=r.text(),
        last_trade_date=r.text(),
        strike=r.number(0.0),
        right=r.text(),
        multiplier=r.text(),
        exchange=r.text(),
        primary_exchange=r.text(),
        currency=r.text(),
        local_symbol=r.text(),
        trading_class=r.text(),
    )


def parse_request(fields: Sequence[str], server_version: int) -> Request:
    """Turn one message's fields into a request; raises MalformedMessage when they do not fit."""
    if not fields:
        raise MalformedMessage("empty message")
    try:
        msg_id = int(fields[0])
    except ValueError:
        raise MalformedMessage(f"message id {fields[0]!r} is not a number") from None
    r = FieldReader(fields, 1 if msg_id in _UNVERSIONED else 2)
    if len(fields) < (1 if msg_id in _UNVERSIONED else 2):
        raise MalformedMessage(f"message {msg_id} has no version field")
    parser = _PARSERS.get(msg_id)
    if parser is not None:
        return parser(r, server_version)
    if msg_id in _IGNORED:
        return Ignored(msg_id)
    if msg_id in _CANCELS:
        return CancelSubscription(msg_id, r.integer())
    return _unsupported(msg_id, fields)


def _unsupported(msg_id: int, fields: Sequence[str]) -> Unsupported:
    return Unsupported(msg_id, request_id(fields))


def request_id(fields: Sequence[str]) -> int | None:
    """The reqId (or orderId) a client message carries, if it has one that can be read.

    Lets the session address an error to the request even when the rest of the message is unreadable.
    """
    try:
        msg_id = int(fields[0])
    except (ValueError, IndexError):
        return None
    req_index = 1 if msg_id in _UNVERSIONED else 2
    if msg_id not in _CLIENT_MESSAGE_IDS or msg_id in _NO_REQ_ID or len(fields) <= req_index:
        return None
    if msg_id == 19:  # replaceFA puts its reqId last
        req_index = len(fields) - 1
    try:
        return int(fields[req_index])
    except ValueError:
        return None


#: Message ids a TWS API client can send; anything else is unknown and cannot name a reqId.
_CLIENT_MESSAGE_IDS = frozenset({*range(1, 26), *range(49, 105)})
#: Known requests without a reqId (their answers are keyed by message type, not id).
_NO_REQ_ID = frozenset({12, 17, 18, 24, 49, 59, 80, 82, 85, 91, 99})


def _start_api(r: FieldReader, sv: int) -> Request:
    client_id = r.integer()
    return StartApi(client_id, r.text() if r.remaining else "")


def _place_order(r: FieldReader, sv: int) -> Request:
    """Cursor over placeOrder with the encoder's conditional blocks; stops at the first unsupported one."""
    order_id = r.integer()
    contract = read_contract(r)
    r.skip(2)  # secIdType, secId
    values: dict[str, Any] = dict(
        action=r.text(),
        total_quantity=r.quantity(),
        order_type=r.text(),
        lmt_price=r.number(),
        aux_price=r.number(),
        tif=r.text() or "DAY",
        oca_group=r.text(),
        account=r.text(),
        open_close=r.text(),
        origin=r.integer(),
        order_ref=r.text(),
        transmit=r.flag(),
        parent_id=r.integer(),
    )
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    values["outside_rth"] = r.flag()
    r.skip(1)  # hidden

    def placed(unsupported: str = "") -> PlaceOrder:
        return PlaceOrder(order_id, contract, OrderTicket(unsupported=unsupported, **values))

    if contract.sec_type == "BAG":
        return placed("combo (BAG) orders are not supported by the simulator")
    r.skip(2)  # sharesAllocation, discretionaryAmt
    values["good_after_time"], values["good_till_date"] = r.text(), r.text()
    r.skip(3 if sv >= 177 else 4)  # faGroup, faMethod, faPercentage[, faProfile]
    values["model_code"] = r.text()
    r.skip(3)  # shortSaleSlot, designatedLocation, exemptCode
    values["oca_type"] = r.integer()
    r.skip(17)  # rule80A … volatilityType
    delta_neutral_type = r.text()
    r.skip(1)
    if delta_neutral_type:
        r.skip(8)
    r.skip(2)  # continuousUpdate, referencePriceType
    values["trail_stop_price"], values["trailing_percent"] = r.number(), r.number()
    r.skip(2)  # scaleInitLevelSize, scaleSubsLevelSize
    if 0 < r.number(0.0) < UNSET_DOUBLE:
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.text():  # hedgeType
        r.skip(1)
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.flag():  # delta-neutral contract
        r.skip(3)
    if r.text():
        return placed("algo orders are not supported by the simulator")
    r.skip(1)  # algoId
    values["what_if"] = r.flag()
    r.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if values["order_type"] in ("PEG BENCH", "PEGBENCH"):
        return placed("pegged-to-benchmark orders are not supported by the simulator")
    if r.integer():
        return placed("conditional orders are not supported by the simulator")
    r.skip(10)  # adjustedOrderType … softDollarTier
    values["cash_qty"] = r.number()
    return placed()


def _cancel_order(r: FieldReader, sv: int) -> Request:
    return CancelOrder(r.integer())


def _req_executions(r: FieldReader, sv: int) -> Request:
    req_id = r.integer()
    return ReqExecutions(
        req_id,
        ExecFilter(
            client_id=r.integer(),
            account=r.text(),
            time=r.text(),
            symbol=r.text(),
            sec_type=r.text(),
            exchange=r.text(),
            side=r.text(),
        ),
    )


def _req_contract_details(r: FieldReader, sv: int) -> Request:
    req_id = r.integer()
    return ReqContractDetails(req_id, read_contract(r))


def _req_mkt_data(r: FieldReader, sv: int) -> Request:
    req_id = r.integer()
    contract = read_contract(r)
    if contract.sec_type == "BAG":
        r.skip(4 * r.integer())
    if r.flag():
        r.skip(3)
    generic = r.text()
    snapshot = r.flag()
    if contract.sec_type == "BAG":
        return Unsupported(1, req_id, snapshot=snapshot)
    return ReqMktData(req_id, contract, generic, snapshot)


def _req_historical_data(r: FieldReader, sv: int) -> Request:
    req_id = r.integer()
    contract = read_contract(r)
    r.skip(1)  # includeExpired
    end, bar_size, duration = r.text(), r.text(), r.text()
    use_rth, what, format_date = r.flag(), r.text(), r.integer(1)
    if contract.sec_type == "BAG":
        return Unsupported(20, req_id)
    keep = r.flag() if r.remaining else False
    return ReqHistoricalData(
        req_id, contract, end, bar_size, duration, use_rth, what.upper(), format_date, keep
    )


def _req_real_time_bars(r: FieldReader, sv: int) -> Request:
    req_id = r.integer()
    contract = read_contract(r)
    return ReqRealTimeBars(req_id, contract, r.integer(5), r.text().upper(), r.flag())


def _req_head_time_stamp(r: FieldReader, sv: int) -> Request:
    req_id = r.integer()
    contract = read_contract(r)
    r.skip(2)  # includeExpired, useRTH
    return ReqHeadTimeStamp(req_id, contract, r.text().upper(), r.integer(1))


_PARSERS: dict[int, Callable[[FieldReader, int], Request]] = {
    1: _req_mkt_data,
    3: _place_order,
    4: _cancel_order,
    5: lambda r, sv: ReqOpenOrders(all_clients=False),
    6: lambda r, sv: ReqAccountUpdates(r.flag(), r.text()),
    7: _req_executions,
    8: lambda r, sv: ReqIds(r.integer()),
    9: _req_contract_details,
    15: lambda r, sv: ReqAutoOpenOrders(r.flag()),
    16: lambda r, sv: ReqOpenOrders(all_clients=True),
    17: lambda r, sv: ReqManagedAccounts(),
    20: _req_historical_data,
    49: lambda r, sv: ReqCurrentTime(),
    58: lambda r, sv: ReqGlobalCancel(),
    50: _req_real_time_bars,
    59: lambda r, sv: ReqMarketDataType(r.integer()),
    61: lambda r, sv: ReqPositions(True),
    62: lambda r, sv: ReqAccountSummary(r.integer(), r.text(), r.text()),
    64: lambda r, sv: ReqPositions(False),
    71: _start_api,
    74: lambda r, sv: ReqPositionsMulti(r.integer(), r.text(), r.text()),
    76: lambda r, sv: ReqAccountUpdatesMulti(r.integer(), r.text(), r.text()),
    81: lambda r, sv: ReqMatchingSymbols(r.integer(), r.text()),
    87: _req_head_time_stamp,
    91: lambda r, sv: ReqMarketRule(r.integer()),
    92: lambda r, sv: ReqPnL(r.integer(), r.text(), r.text()),
    94: lambda r, sv: ReqPnL(r.integer(), r.text(), r.text(), r.integer()),
    99: lambda r, sv: ReqCompletedOrders(r.flag()),
}
