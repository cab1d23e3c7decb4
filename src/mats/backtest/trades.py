"""Round trips from fills: when each position per (strategy, symbol) opened and closed, and what it made.

A trade opens when a strategy's position in a symbol leaves flat and closes when it returns to flat
(a fill through zero closes one trade and opens the next). Its PnL is realized at average cost, in
the base currency, net of every commission paid on its fills. This is the same count the broker keeps
(``stats["trades"]``), so win rate and trade count always agree.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from mats.accounting import FLAT_EPSILON

TRADE_COLUMNS = [
    "strategy_id",
    "symbol",
    "entry_time",
    "exit_time",
    "direction",
    "qty",
    "entry_price",
    "exit_price",
    "pnl",
]


class _Open:
    """One strategy's open trade in one symbol (a plain class with slots: this runs once per fill)."""

    __slots__ = ("avg", "closed_qty", "entry_ns", "exit_value", "long", "peak_qty", "qty", "realized")

    def __init__(self) -> None:
        self.qty = 0.0  # signed
        self.avg = 0.0
        self.entry_ns = 0
        self.peak_qty = 0.0
        self.realized = 0.0  # base currency, commissions deducted
        self.exit_value = 0.0  # Σ closed qty × price, for the average exit price
        self.closed_qty = 0.0
        self.long = True


def round_trips(fills: pd.DataFrame, factors: Mapping[str, tuple[float, float]]) -> pd.DataFrame:
    """Closed trades, one row each; ``factors[symbol]`` is (multiplier, FX rate to the base currency)."""
    books: dict[tuple[str, str], _Open] = {}
    rows: list[tuple[object, ...]] = []
    times = (
        pd.DatetimeIndex(fills.index).as_unit("ns").to_numpy(dtype="datetime64[ns]").view("int64").tolist()
    )
    columns = zip(
        times,
        fills["strategy_id"].tolist(),
        fills["symbol"].tolist(),
        (fills["side"] == "BUY").tolist(),
        fills["qty"].tolist(),
        fills["price"].tolist(),
        fills["commission"].tolist(),
        strict=True,
    )
    for when, sid, symbol, buy, qty, price, commission in columns:
        mult, rate = factors.get(symbol, (1.0, 1.0))
        signed = qty if buy else -qty
        book = books.get((sid, symbol))
        if book is None:
            book = books[(sid, symbol)] = _Open()
        book.realized -= commission * rate
        remaining = signed
        if book.qty and (book.qty > 0) != buy:  # reduces, closes or flips
            closing = min(qty, abs(book.qty)) * (1.0 if book.qty > 0 else -1.0)
            book.realized += closing * (price - book.avg) * mult * rate
            book.exit_value += abs(closing) * price
            book.closed_qty += abs(closing)
            book.qty -= closing
            remaining = signed + closing
            if abs(book.qty) < FLAT_EPSILON:
                rows.append(_close(sid, symbol, book, when))
                book = books[(sid, symbol)] = _Open()
        if abs(remaining) >= FLAT_EPSILON:
            if not book.qty:
                book.entry_ns, book.long = when, remaining > 0
            new_qty = book.qty + remaining
            book.avg = (book.qty * book.avg + remaining * price) / new_qty
            book.qty = new_qty
            book.peak_qty = max(book.peak_qty, abs(new_qty))
    trades = pd.DataFrame(rows, columns=TRADE_COLUMNS)
    for column in ("entry_time", "exit_time"):
        trades[column] = pd.to_datetime(trades[column].astype("int64"), utc=True)
    return trades


def _close(sid: str, symbol: str, book: _Open, exit_ns: int) -> tuple[object, ...]:
    return (
        sid,
        symbol,
        book.entry_ns,
        exit_ns,
        "LONG" if book.long else "SHORT",
        book.peak_qty,
        book.avg,
        book.exit_value / book.closed_qty if book.closed_qty else float("nan"),
        book.realized,
    )
