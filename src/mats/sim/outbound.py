"""Server → client messages, field by field, in the order ib_async 2.1 decodes them at sv 176–178.

Each function returns the field list; `codec.encode` frames it. Where ib_async unpacks an exact field
count (position, portfolio, commission report, nextValidId, managedAccounts) the count here is exact.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from decimal import Decimal

from .codec import UNSET_DOUBLE, UNSET_DOUBLE_TEXT, Field, join_fields
from .contracts import ContractSpec, trading_hours
from .orders import CommissionReport, Execution, OrderTicket, OrderView, Status

Fields = list[Field]

#: ib_async stops treating faProfile as a field at this version (and adds pendingPriceRevision at 178).
FA_PROFILE_REMOVED = 177
PENDING_PRICE_REVISION = 178


def handshake_reply(server_version: int, conn_time: str) -> Fields:
    return [server_version, conn_time]


def managed_accounts(accounts: Iterable[str]) -> Fields:
    return [15, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> Fields:
    return [9, 1, order_id]


def error(req_id: int, code: int, message: str) -> Fields:
    """Error/notice; the trailing advancedOrderRejectJson field exists at sv >= 166."""
    return [4, 2, req_id, code, message, ""]


def _contract_head(c: ContractSpec, exchange: str | None = None) -> Fields:
    """conId … tradingClass as openOrder/execDetails/position write them (11 fields, pre-joined)."""
    return [_contract_text(c, c.exchange if exchange is None else exchange)]


@functools.lru_cache(maxsize=1024)
def _contract_text(c: ContractSpec, exchange: str) -> str:
    fields: Fields = [c.con_id, c.symbol, c.sec_type, c.last_trade_date, 0.0, "", c.multiplier, exchange]
    fields += [c.currency, c.local_symbol, c.trading_class]
    return join_fields(fields)


def _price(value: float) -> Field:
    return None if value == UNSET_DOUBLE else value


def order_status(o: OrderView) -> Fields:
    return [
        3,
        o.order_id,
        o.status.value,
        o.filled,
        o.remaining,
        o.avg_fill_price,
        o.perm_id,
        o.ticket.parent_id,
        o.last_fill_price,
        o.client_id,
        o.why_held,
        0.0,
    ]


def _order_core(t: OrderTicket) -> Fields:
    return [
        t.action,
        t.total_quantity,
        t.order_type,
        _price(t.lmt_price),
        _price(t.aux_price),
        t.tif,
        t.oca_group,
        t.account,
        t.open_close,
        t.origin,
        t.order_ref,
    ]


def open_order(o: OrderView, sv: int, margins: tuple[float, float, float] | None = None) -> Fields:
    """openOrder (msg 5): 127 fields at sv 178 with every conditional block empty.

    `margins` (init, maint, equity-with-loan change) turns it into a whatIf answer; ib_async needs them
    as numbers, an unset value never resolves its future. The runs before and after the order state
    never change during an order's life, so they are encoded once and reused.
    """
    head = _open_order_head(o.order_id, o.client_id, o.perm_id, o.contract, o.ticket, sv)
    fields: Fields = [5, head, False, margins is not None, o.status.value]
    if margins is None:
        fields.append(_NO_MARGINS)
    else:
        init, maint, ewl = margins
        fields += ["0", "0", "0", init, maint, ewl, init, maint, ewl]
    if o.status is Status.FILLED:
        fields += [o.commission, None, None, o.contract.currency, ""]
    else:
        fields.append(_NO_COMMISSION)
    fields.append(_open_order_tail(o.ticket))
    return fields


_NO_MARGINS = join_fields([""] * 9)
_NO_COMMISSION = join_fields([None, None, None, "", ""])


@functools.lru_cache(maxsize=1024)  # an order's few openOrder messages reuse it; bounded memory
def _open_order_head(
    order_id: int, client_id: int, perm_id: int, contract: ContractSpec, t: OrderTicket, sv: int
) -> str:
    """orderId … algoStrategy: everything before `solicited`."""
    fields: Fields = [order_id, *_contract_head(contract), *_order_core(t)]
    fields += [client_id, perm_id, t.outside_rth, False, 0.0, t.good_after_time, "", "", "", ""]
    if sv < FA_PROFILE_REMOVED:
        fields.append("")
    fields += [t.model_code, t.good_till_date, "", None, "", 0, "", -1, 0]
    fields += [None, None, None, None, None]  # startingPrice, stockRefPrice, delta, stockRange lower/upper
    fields += [0, False, False, False, None, t.oca_type, False, False, None, t.parent_id, 0]
    fields += [None, None, "", None]  # volatility, volatilityType, deltaNeutralOrderType, its aux price
    fields += [False, None, _price(t.trail_stop_price), _price(t.trailing_percent), None, None, ""]
    fields += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
    fields += [None, None, None]  # scale init/subs level size, price increment
    fields += [""]  # hedgeType
    fields += [
        False,
        "",
        "",
        False,
        False,
    ]  # optOutSmartRouting, clearing, notHeld, no delta-neutral contract
    fields += [""]  # algoStrategy
    return join_fields(fields)


@functools.lru_cache(maxsize=1024)  # an order's few openOrder messages reuse it; bounded memory
def _open_order_tail(t: OrderTicket) -> str:
    """randomizeSize … midOffsetAtHalf: everything after the order state (sv >= 170)."""
    fields: Fields = [False, False]  # randomizeSize, randomizePrice
    fields += [0]  # conditions
    fields += ["", None, _price(t.trail_stop_price), None, None, None, None, 0, "", "", ""]
    fields += [_price(t.cash_qty), False, False, False, False]
    fields += [None, None, False]  # duration, postToAts, autoCancelParent
    fields += [None, None, None, None, None]  # minTradeQty … midOffsetAtHalf
    return join_fields(fields)


def completed_order(o: OrderView, sv: int) -> Fields:
    """completedOrder (msg 101): 96 fields at sv 178; it carries permId but no orderId or clientId."""
    t = o.ticket
    fields: Fields = [101, *_contract_head(o.contract), *_order_core(o.ticket)]
    fields += [o.perm_id, t.outside_rth, False, 0.0, t.good_after_time, "", "", ""]
    if sv < FA_PROFILE_REMOVED:
        fields.append("")
    fields += [t.model_code, t.good_till_date, "", None, "", 0, "", -1]
    fields += [None, None, None, None, None]  # startingPrice … stockRangeUpper
    fields += [0, False, False, None, t.oca_type, 0, None, None, "", None]
    fields += [False, None, _price(t.trail_stop_price), _price(t.trailing_percent), ""]
    fields += [0, 0, 0]
    fields += [None, None, None]
    fields += [""]  # hedgeType
    fields += ["", "", False, False]  # clearingAccount, clearingIntent, notHeld, no delta-neutral contract
    fields += [""]  # algoStrategy
    fields += [False, o.status.value, False, False]
    fields += [0]  # conditions
    fields += [_price(t.trail_stop_price), None, _price(t.cash_qty), False, False, "", o.filled, 0, False]
    fields += ["", False, False, 0, o.completed_time, o.completed_status]
    fields += [None, None, None, None, None]
    return fields


def exec_details(req_id: int, e: Execution, sv: int) -> Fields:
    """execDetails (msg 11); live fills use reqId -1."""
    fields: Fields = [11, req_id, e.order_id, *_contract_head(e.contract, e.exchange)]
    fields += [e.exec_id, e.time, e.account, e.exchange, e.side, e.shares, e.price, e.perm_id, e.client_id]
    fields += [0, e.cum_qty, e.avg_price, e.order_ref, "", None, e.model_code, e.last_liquidity]
    if sv >= PENDING_PRICE_REVISION:
        fields.append(False)
    return fields


def commission_report(r: CommissionReport) -> Fields:
    """Exactly 8 fields; an opening fill's realized PnL is IB's unset double, which ib_async reads as 0."""
    realized: Field = UNSET_DOUBLE_TEXT if r.realized_pnl is None else round(r.realized_pnl, 6)
    return [59, 1, r.exec_id, round(r.commission, 6), r.currency, realized, UNSET_DOUBLE_TEXT, ""]


def contract_details(req_id: int, c: ContractSpec, day: dt.date) -> Fields:
    """contractDetails (msg 10, no version at sv >= 164)."""
    hours, liquid = trading_hours(c, day)
    exchanges = [e for e in c.valid_exchanges.split(",") if e] or [c.exchange]
    stock_type = "ETF" if c.symbol == "SPY" else ("COMMON" if c.sec_type == "STK" else "")
    fields: Fields = [10, req_id, c.symbol, c.sec_type, c.last_trade_date, 0.0, "", c.exchange, c.currency]
    fields += [c.local_symbol, c.trading_class, c.trading_class, c.con_id, c.min_tick]
    fields += [c.multiplier, c.order_types, c.valid_exchanges or c.exchange, 1, 0, c.long_name]
    fields += [c.primary_exchange, c.contract_month, c.industry, c.category, "", c.time_zone, hours, liquid]
    fields += ["", None, 0]  # evRule, evMultiplier, no secIds
    fields += [1, "", "", ",".join(str(c.market_rule_id) for _ in exchanges), c.last_trade_date, stock_type]
    increment = Decimal("1") if c.sec_type != "CASH" else Decimal("0.01")
    fields += [increment, increment, increment]
    return fields


def contract_details_end(req_id: int) -> Fields:
    return [52, 1, req_id]


def position(account: str, c: ContractSpec, qty: Decimal, avg_cost: float) -> Fields:
    """Exactly 16 fields."""
    return [61, 3, account, *_contract_head(c), qty, avg_cost]


def position_end() -> Fields:
    return [62, 1]


def position_multi(req_id: int, account: str, c: ContractSpec, qty: Decimal, avg_cost: float) -> Fields:
    """Exactly 18 fields."""
    return [71, 1, req_id, account, *_contract_head(c), qty, avg_cost, ""]


def position_multi_end(req_id: int) -> Fields:
    return [72, 1, req_id]


def portfolio_value(
    c: ContractSpec,
    qty: Decimal,
    market_price: float,
    market_value: float,
    avg_cost: float,
    unrealized: float,
    realized: float,
    account: str,
) -> Fields:
    """updatePortfolio (msg 7): exactly 20 fields; primaryExchange stands where exchange would."""
    head: Fields = [c.con_id, c.symbol, c.sec_type, c.last_trade_date, 0.0, "", c.multiplier]
    head += [c.primary_exchange, c.currency, c.local_symbol, c.trading_class]
    numbers = [market_price, market_value, avg_cost, unrealized, realized]
    return [7, 8, *head, qty, *(round(n, 6) for n in numbers), account]


def account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return [6, 2, key, value, currency, account]


def account_time(stamp: str) -> Fields:
    return [8, 1, stamp]


def account_download_end(account: str) -> Fields:
    return [54, 1, account]


def account_update_multi(req_id: int, account: str, key: str, value: str, currency: str) -> Fields:
    return [73, 1, req_id, account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return [74, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    return [63, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return [64, 1, req_id]


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> Fields:
    return [94, req_id, round(daily, 6), round(unrealized, 6), round(realized, 6)]


def pnl_single(
    req_id: int, qty: Decimal, daily: float, unrealized: float, realized: float, value: float
) -> Fields:
    return [95, req_id, qty, round(daily, 6), round(unrealized, 6), round(realized, 6), round(value, 6)]


def open_order_end() -> Fields:
    return [53, 1]


def completed_orders_end() -> Fields:
    return [102]


def exec_details_end(req_id: int) -> Fields:
    return [55, 1, req_id]


def current_time(epoch: int) -> Fields:
    return [49, 1, epoch]


def symbol_samples(req_id: int, specs: Iterable[ContractSpec], sv: int) -> Fields:
    rows = list(specs)
    fields: Fields = [79, req_id, len(rows)]
    for c in rows:
        fields += [c.con_id, c.symbol, c.sec_type, c.primary_exchange, c.currency, 0]
        if sv >= 176:
            fields += [c.long_name, ""]
    return fields


def market_rule(rule_id: int, increment: float) -> Fields:
    return [93, rule_id, 1, 0.0, increment]


def farm_notices() -> list[Fields]:
    """What real TWS says on every connect: market data, HMDS and sec-def farms are OK."""
    return [
        error(-1, 2104, "Market data farm connection is OK:usfarm"),
        error(-1, 2106, "HMDS data farm connection is OK:ushmds"),
        error(-1, 2158, "Sec-def data farm connection is OK:secdefnj"),
    ]


def empty_answer(msg_id: int, req_id: int | None, snapshot: bool) -> Fields | None:
    """The end marker that releases an ib_async await for a request the simulator does not implement."""
    answers: dict[int, Fields | None]
    if req_id is None:
        answers = {
            18: [16, 1, 1, ""],  # receiveFA: empty XML
            24: [19, 1, ""],  # scanner parameters
            80: [78, 0],  # family codes
            82: [80, 0],  # depth exchanges
            85: [85, 0],  # news providers
        }
        return answers.get(msg_id)
    answers = {
        1: [57, 1, req_id] if snapshot else None,  # snapshot end
        20: [17, req_id, "", "", 0],  # no bars
        22: [20, 3, req_id, 0],  # no scanner rows
        52: [51, 1, req_id, ""],  # fundamental data
        78: [76, req_id],  # option chain end
        83: [82, req_id, 0],  # smart components
        84: [83, req_id, 0, ""],  # news article
        86: [87, req_id, 0],  # historical news end
        88: [89, req_id, 0],  # histogram
        96: [96, req_id, 0, 1],  # historical ticks, done
        100: [104, req_id, "{}"],  # WSH meta data
        102: [105, req_id, "{}"],  # WSH event data
        104: [107, req_id, ""],  # user info
    }
    return answers.get(msg_id)
