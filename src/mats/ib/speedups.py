"""Faster equivalents of ib_async hot paths, installed once at import (``mats.ib`` imports this module).

Each replacement produces exactly what ib_async's own code does (``tests/ib/test_speedups.py`` compares
them byte for byte, so an ib_async upgrade that changes the original fails there, not in production):

- ``Client.send`` builds a dict of eleven lambdas and writes every field of a message into a ``StringIO``
  on each call; a ``placeOrder`` has about 170 fields, so encoding one order took ~0.1 ms of the loop on
  the tick-to-order path. Here the fields are formatted by exact type and joined once.
- ``Decoder.parse`` (three to five times per order message, per client that sees it) asked
  ``dataclasses.fields`` for a ~150-field Order's fields and their types on every call; the plan of which
  fields to convert, and how, is now worked out once per class.
- ``Trade.__repr__`` walks every field of a ~150-field Order, and ib_async formats
  ``f"orderStatus: {trade}"`` (and placeOrder, openOrder, cancelOrder) before its logging level is
  checked: about 70 µs, several times per order and per client that sees it. MATS logs its own, shorter
  lines (and silences ib_async's INFO), so the repr is cut to what identifies the order.
- ``Fill``, ``Execution`` and ``Position`` likewise: every execution is formatted twice (with its
  Contract, whose repr asks ``dataclasses.fields``) per client that sees it, and every position update
  once, all for log lines nobody reads; about 1.5% of the loop's time with 98 strategies trading.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

from ib_async import Contract, Execution, Fill, Position, Trade
from ib_async.client import Client
from ib_async.decoder import Decoder
from ib_async.util import UNSET_DOUBLE, UNSET_INTEGER

ORIGINAL_SEND: Callable[..., None] = Client.send
ORIGINAL_PARSE: Callable[[Decoder, Any], None] = Decoder.parse


def _contract(c: Contract) -> str:
    return "\0".join(
        [
            str(c.conId),
            str(c.symbol),
            str(c.secType),
            str(c.lastTradeDateOrContractMonth),
            str(c.strike),
            str(c.right),
            str(c.multiplier),
            str(c.exchange),
            str(c.primaryExchange),
            str(c.currency),
            str(c.localSymbol),
            str(c.tradingClass),
        ]
    )


def encode_fields(fields: tuple[Any, ...], make_empty: bool = True) -> str:
    """One message's fields as ib_async's ``Client.send`` writes them, NUL-terminated each.

    Dispatch is on the exact type, as ib_async's handler table is (a subclass of ``int`` or ``str``, an
    enum say, falls through to ``str()`` there too); Contracts and their subclasses share one format."""
    out: list[str] = []
    append = out.append
    for f in fields:
        t = type(f)
        if t is str:
            append(f)
        elif t is int:
            append("" if make_empty and f == UNSET_INTEGER else str(f))
        elif t is float:
            if make_empty and f == UNSET_DOUBLE:
                append("")
            else:
                append("Infinite" if f == math.inf else str(f))
        elif t is bool:
            append("1" if f else "0")
        elif f is None:
            append("")
        elif isinstance(f, Contract):
            append(_contract(f))
        elif t is list:
            append("".join([f"{v.tag}={v.value};" for v in f]))
        else:
            append(str(f))
    append("")
    return "\0".join(out)


def _send(self: Client, *fields: Any, makeEmpty: bool = True) -> None:
    if not self.isConnected():
        raise ConnectionError("Not connected")
    self.sendMsg(encode_fields(fields, makeEmpty))


@functools.cache
def _parse_plan(cls: type) -> tuple[tuple[str, type, Any], ...]:
    """The fields ``Decoder.parse`` converts (those whose default is an int, float or bool), in order."""
    return tuple(
        (f.name, type(f.default), f.default)
        for f in dataclasses.fields(cls)
        if type(f.default) in (int, float, bool)
    )


def _parse(self: Decoder, obj: Any) -> None:
    cls: type = type(obj)
    for name, typ, default in _parse_plan(cls):
        v = getattr(obj, name)
        if typ is int:
            setattr(obj, name, int(v) if v else default)
        elif typ is float:
            setattr(obj, name, float(v) if v else default)
        else:
            setattr(obj, name, bool(int(v)) if v else default)


def trade_summary(trade: Trade) -> str:
    order, status = trade.order, trade.orderStatus
    return (
        f"Trade(orderId={order.orderId}, permId={order.permId}, orderRef={order.orderRef!r}, "
        f"{order.action} {order.totalQuantity:g} {trade.contract.symbol or trade.contract.conId}, "
        f"status={status.status!r}, filled={status.filled:g}, log={len(trade.log)})"
    )


def execution_summary(execution: Execution) -> str:
    return (
        f"Execution(execId={execution.execId!r}, permId={execution.permId}, orderRef={execution.orderRef!r}, "
        f"{execution.side} {execution.shares:g}@{execution.price:g})"
    )


def fill_summary(fill: Fill) -> str:
    return f"Fill({fill.contract.symbol or fill.contract.conId}, {execution_summary(fill.execution)})"


def position_summary(position: Position) -> str:
    contract = position.contract
    return (
        f"Position({position.account!r}, {contract.symbol or contract.conId}, "
        f"position={position.position:g}, avgCost={position.avgCost:g})"
    )


Client.send = _send  # type: ignore[method-assign]
Decoder.parse = _parse  # type: ignore[method-assign]
Trade.__repr__ = trade_summary  # type: ignore[method-assign,assignment]
Execution.__repr__ = execution_summary  # type: ignore[method-assign,assignment]
Fill.__repr__ = fill_summary  # type: ignore[method-assign,assignment]
Position.__repr__ = position_summary  # type: ignore[method-assign,assignment]
