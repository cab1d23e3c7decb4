"""MATS's orders in IB's terms and back: the ``Order`` sent, and what a client's report of it means.

IB reports an order's life as ib_async ``Trade`` updates on every client that sees it (the placing
client and the master client). Each report is reduced here to a ``TradeStatusSeen``, which the
TradeManager folds into its one ``OrderStatus`` per change.
"""

from __future__ import annotations

import math

import msgspec
from ib_async import Order, Trade

from mats.ib.errors import Signal, classify
from mats.model import OrderRequest, OrderState, OrderStatus, OrderType

IB_STATES = {
    "PendingSubmit": OrderState.PENDING,
    "ApiPending": OrderState.PENDING,
    "PreSubmitted": OrderState.SUBMITTED,
    "Submitted": OrderState.SUBMITTED,
    "PendingCancel": OrderState.SUBMITTED,
    "Filled": OrderState.FILLED,
    "Cancelled": OrderState.CANCELLED,
    "ApiCancelled": OrderState.CANCELLED,
    "Inactive": OrderState.REJECTED,
}


class TradeStatusSeen(msgspec.Struct, frozen=True):
    """What one IB client reported about an order (sent from ib_async's synchronous callbacks)."""

    order_ref: str
    ib_status: str
    filled: float
    remaining: float
    avg_fill_price: float
    perm_id: int
    reason: str = ""


_BLANK_ORDER = Order()
_MUTABLE_DEFAULTS = tuple(k for k, v in vars(_BLANK_ORDER).items() if isinstance(v, (list, dict, set)))


def blank_order() -> Order:
    """``Order()``, copied from a template: its dataclass ``__init__`` takes 139 arguments (10 µs, on the
    tick-to-order path) where copying a dict takes 1. The mutable defaults (lists) are fresh, as there."""
    order: Order = object.__new__(Order)
    fields = vars(order)
    fields.update(vars(_BLANK_ORDER))
    for name in _MUTABLE_DEFAULTS:
        fields[name] = type(fields[name])()
    return order


def build_order(request: OrderRequest, order_ref: str, account: str) -> Order:
    order = blank_order()
    order.action = str(request.side)
    order.totalQuantity = abs(request.qty)
    order.orderType = str(request.order_type)
    order.tif = str(request.tif)
    order.orderRef = order_ref
    order.account = account
    if request.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and request.limit_price is not None:
        order.lmtPrice = request.limit_price
    if request.order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and request.stop_price is not None:
        order.auxPrice = request.stop_price
    return order


def status_seen(trade: Trade) -> TradeStatusSeen:
    """One client's report of a MATS order. ib_async turns an order error (201 …) into "Cancelled"; the
    code in the Trade's log says whether it was a rejection."""
    status = trade.orderStatus
    ib_status, reason = status.status, ""
    last = trade.log[-1] if trade.log else None
    rejected = last is not None and (
        ib_status == "Inactive"
        or (ib_status == "Cancelled" and classify(last.errorCode).signal is Signal.ORDER_REJECTED)
    )
    if rejected and last is not None:
        ib_status, reason = "Inactive", last.message or "rejected by IB"
    return TradeStatusSeen(
        order_ref=trade.order.orderRef,
        ib_status=ib_status,
        filled=float(status.filled),
        remaining=float(status.remaining),
        avg_fill_price=float(status.avgFillPrice),
        perm_id=int(trade.order.permId or status.permId or 0),
        reason=reason,
    )


def same_status(a: OrderStatus, b: OrderStatus) -> bool:
    """Nothing a trader would see changed (so nothing is journaled or published)."""
    return (
        a.state == b.state
        and math.isclose(a.filled, b.filled)
        and math.isclose(a.remaining, b.remaining)
        and math.isclose(a.avg_fill_price, b.avg_fill_price)
        and a.perm_id == b.perm_id
        and a.reason == b.reason
    )
