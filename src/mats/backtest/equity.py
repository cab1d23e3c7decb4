"""The equity curve, computed after the replay from the fills' state changes and the closes.

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


def equity_curve(
    market: Market, changes: Sequence[StateChange], initial_cash: float, factors: Sequence[float]
) -> np.ndarray:
    n = len(market)
    if not changes:
        return np.full(n, initial_cash)
    rows = np.arange(n)
    ks = np.fromiter((c.k for c in changes), dtype=np.int64, count=len(changes))
    times = np.fromiter((c.time_ns for c in changes), dtype=np.int64, count=len(changes))
    change_rows = np.empty(len(changes), dtype=np.int64)
    symbol_rows = {k: market.rows_of(k) for k in np.unique(ks).tolist()}
    for k, k_rows in symbol_rows.items():
        mine = ks == k
        bar_times = market.times_ns[k_rows]
        change_rows[mine] = k_rows[np.searchsorted(bar_times, times[mine])]
    cash = np.fromiter((c.cash_base for c in changes), dtype=np.float64, count=len(changes))
    equity = _steps(change_rows, cash, initial_cash, rows)
    for k, k_rows in symbol_rows.items():
        mine = ks == k
        qty = _steps(change_rows[mine], np.array([c.net_qty for c in changes if c.k == k]), 0.0, rows)
        offset = _steps(change_rows[mine], np.array([c.offset for c in changes if c.k == k]), 0.0, rows)
        latest = np.searchsorted(k_rows, rows, side="right") - 1
        close = np.where(latest >= 0, market.columns["close"][k_rows][latest.clip(0)], 0.0)
        equity += qty * close * factors[k] + offset
    return equity
