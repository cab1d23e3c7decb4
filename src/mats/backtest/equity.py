"""The equity curve and the exposure, computed after the replay from the fills' state changes and the closes.

Between fills nothing but prices moves, so equity at merged row *r* is the cash after the last fill at
or before *r* plus, per symbol, net quantity × its latest close × (multiplier × FX rate) + offset. That
is a handful of numpy passes, instead of marking the account on every bar of the hot loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mats.backtest.market import Market
from mats.brokers.backtest import StateChange


def _steps(change_rows: np.ndarray, values: np.ndarray, initial: float, rows: np.ndarray) -> np.ndarray:
    """A step function over ``rows``: ``initial`` until the first change, then the latest change's value."""
    return np.r_[initial, values][np.searchsorted(change_rows, rows, side="right")]


def _latest_close(market: Market, k: int) -> np.ndarray:
    """Per merged row, symbol ``k``'s latest close (0 before its first bar): a forward fill, O(rows)."""
    closes = market.columns["close"]
    if len(market.symbols) == 1:
        return closes
    rows = np.arange(len(market))
    latest = np.maximum.accumulate(np.where(market.sym == k, rows, -1))
    return np.where(latest >= 0, closes[latest.clip(0)], 0.0)


def _change_rows(market: Market, ks: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The merged row of each change: the bar of its symbol at its time."""
    if len(market.symbols) == 1:
        return np.searchsorted(market.times_ns, times)
    out = np.empty(len(ks), dtype=np.int64)
    for k in np.unique(ks).tolist():
        mine = ks == k
        k_rows = market.rows_of(k)
        out[mine] = k_rows[np.searchsorted(market.times_ns[k_rows], times[mine])]
    return out


def book_curves(
    market: Market, changes: Sequence[StateChange], initial_cash: float, factors: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """(equity per merged row, whether any position was open after it): the curve and the exposure."""
    n = len(market)
    if not changes:
        return np.full(n, initial_cash), np.zeros(n, dtype=bool)
    rows = np.arange(n)
    m = len(changes)
    ks = np.fromiter((c.k for c in changes), dtype=np.int64, count=m)
    times = np.fromiter((c.time_ns for c in changes), dtype=np.int64, count=m)
    net = np.fromiter((c.net_qty for c in changes), dtype=np.float64, count=m)
    offsets = np.fromiter((c.offset for c in changes), dtype=np.float64, count=m)
    cash = np.fromiter((c.cash_base for c in changes), dtype=np.float64, count=m)
    change_rows = _change_rows(market, ks, times)
    equity = _steps(change_rows, cash, initial_cash, rows)
    held = np.zeros(n, dtype=bool)
    for k in np.unique(ks).tolist():
        mine = ks == k
        qty = _steps(change_rows[mine], net[mine], 0.0, rows)
        equity += qty * _latest_close(market, k) * factors[k] + _steps(
            change_rows[mine], offsets[mine], 0.0, rows
        )
        held |= qty != 0.0
    return equity, held


def equity_curve(
    market: Market, changes: Sequence[StateChange], initial_cash: float, factors: Sequence[float]
) -> np.ndarray:
    return book_curves(market, changes, initial_cash, factors)[0]
