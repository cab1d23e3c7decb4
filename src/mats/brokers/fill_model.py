"""Where an order fills against one bar: the pure part of the backtest broker.

Market orders fill at the open. A limit fills at the open if the open is already through the limit (a
gap gives the better price), else at the limit if the bar's range reaches it. A stop triggers at the
open if the open is through it, else at the stop if the range reaches it; a stop fills at its trigger,
a stop-limit becomes a limit that fills at the trigger if that is within the limit. Slippage, a
fraction of price, makes market and stop fills worse and never touches limit fills.
"""

from __future__ import annotations

from typing import Protocol

from mats.model import OrderRequest, OrderType


class PriceBar(Protocol):
    @property
    def time_ns(self) -> int: ...
    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...


class AtOpen:
    """A bar seen only at its open: all an IOC order gets."""

    __slots__ = ("close", "high", "low", "open", "time_ns")

    def __init__(self, bar: PriceBar) -> None:
        self.time_ns = bar.time_ns
        self.open = self.high = self.low = self.close = bar.open


def limit_fill(buy: bool, limit: float, bar: PriceBar) -> float | None:
    if buy:
        if bar.open <= limit:
            return bar.open  # gapped through the limit: the open is better
        return limit if bar.low <= limit else None
    if bar.open >= limit:
        return bar.open
    return limit if bar.high >= limit else None


def stop_trigger(buy: bool, stop: float, bar: PriceBar) -> float | None:
    """The price at which a stop triggers in this bar, or None."""
    if buy:
        if bar.open >= stop:
            return bar.open
        return stop if bar.high >= stop else None
    if bar.open <= stop:
        return bar.open
    return stop if bar.low <= stop else None


def slipped(price: float, buy: bool, slippage: float) -> float:
    if not slippage:
        return price
    return price * (1.0 + slippage) if buy else price * (1.0 - slippage)


def fill_price(
    request: OrderRequest, bar: PriceBar, *, triggered: bool, slippage: float
) -> tuple[float | None, bool]:
    """The fill price in ``bar`` (None if it does not fill), and whether a stop-limit is now triggered."""
    buy = request.qty > 0
    kind = request.order_type
    if kind is OrderType.MARKET:
        return slipped(bar.open, buy, slippage), triggered
    if kind is OrderType.LIMIT or triggered:
        assert request.limit_price is not None
        return limit_fill(buy, request.limit_price, bar), triggered
    assert request.stop_price is not None
    trigger = stop_trigger(buy, request.stop_price, bar)
    if trigger is None:
        return None, False
    if kind is OrderType.STOP:
        return slipped(trigger, buy, slippage), True
    limit = request.limit_price
    assert limit is not None
    return (trigger if (trigger <= limit if buy else trigger >= limit) else None), True
