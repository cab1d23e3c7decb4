"""Statistics of a backtest from its equity curve, fills and round trips.

Returns are daily (the equity at each UTC day's last bar) once a run spans three days or more, else
per bar; they are annualised with the number of such periods per year the data itself has (about 252
for exchange-traded days, 365 for round-the-clock bars), so a strategy's Sharpe does not change with
the calendar of its market. Risk-free rate 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

_YEAR_SECONDS = 365.25 * 24 * 3600
_MIN_DAILY_POINTS = 3


def drawdown(
    equity: pd.Series,
) -> tuple[float, pd.Timestamp | None, pd.Timestamp | None, pd.Timestamp | None]:
    """The largest fall from a running peak as a positive fraction, with its peak, trough and recovery
    times (recovery: the first time equity is back at the peak; None if it never is)."""
    if equity.empty:
        return 0.0, None, None, None
    values = equity.to_numpy(dtype=np.float64)
    peaks = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdowns = np.where(peaks > 0, 1.0 - values / peaks, 0.0)
    trough = int(np.argmax(drawdowns))
    depth = float(drawdowns[trough])
    if depth <= 0.0:
        return 0.0, None, None, None
    peak = int(np.flatnonzero(values[: trough + 1] == peaks[trough])[0])
    back = np.flatnonzero(values[trough:] >= peaks[trough])
    recovery = equity.index[trough + int(back[0])] if len(back) else None
    return depth, equity.index[peak], equity.index[trough], recovery


def max_drawdown(equity: pd.Series) -> float:
    """The largest fall from a running peak, as a positive fraction of that peak."""
    return drawdown(equity)[0]


def period_returns(equity: pd.Series, initial: float | None = None) -> tuple[np.ndarray, float]:
    """(returns, periods per year): daily when the run spans enough days, else per bar.

    The first period starts from ``initial`` (the starting cash), so the first day or bar counts.
    """
    if len(equity) < 2:
        return np.empty(0), 0.0
    span = (equity.index[-1] - equity.index[0]).total_seconds()
    if span <= 0:
        return np.empty(0), 0.0
    daily = equity.groupby(equity.index.floor("D")).last()  # type: ignore[attr-defined]
    points = daily if len(daily) >= _MIN_DAILY_POINTS else equity
    start = float(equity.iloc[0]) if initial is None else initial
    values = np.r_[start, points.to_numpy(dtype=np.float64)]
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(values) / values[:-1]
    returns = returns[np.isfinite(returns)]
    intervals = len(points) - 1  # between observed points: the span's own frequency
    return returns, intervals / (span / _YEAR_SECONDS)


def sharpe_ratio(equity: pd.Series, initial: float | None = None) -> float:
    return _ratios(*period_returns(equity, initial))[1]


def sortino_ratio(equity: pd.Series, initial: float | None = None) -> float:
    """Like Sharpe, but only losing periods count as risk (downside deviation against 0)."""
    return _ratios(*period_returns(equity, initial))[2]


def volatility(equity: pd.Series, initial: float | None = None) -> float:
    return _ratios(*period_returns(equity, initial))[0]


def _ratios(returns: np.ndarray, per_year: float) -> tuple[float, float, float]:
    """(annualised volatility, Sharpe, Sortino) of periodic returns."""
    if len(returns) < 2:
        return 0.0, 0.0, 0.0
    std = float(returns.std(ddof=1))
    mean = float(returns.mean())
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    root = math.sqrt(per_year)
    return (
        std * root,
        mean / std * root if std > 0 else 0.0,
        mean / downside * root if downside > 0 else 0.0,
    )


def cagr(equity: pd.Series, initial: float, final: float) -> float:
    """Compound annual growth; NaN for runs shorter than a day, where it means nothing."""
    if len(equity) < 2 or initial <= 0:
        return math.nan
    years = (equity.index[-1] - equity.index[0]).total_seconds() / _YEAR_SECONDS
    if years < 1 / 365.25:
        return math.nan
    if final <= 0:
        return -1.0
    try:
        return float((final / initial) ** (1.0 / years) - 1.0)
    except OverflowError:
        return math.inf


def compute_stats(
    equity: pd.Series,
    fills: pd.DataFrame,
    *,
    cash: float,
    final_equity: float,
    trades: int,
    bars: int,
    trade_pnls: np.ndarray | None = None,
    exposure: float = 0.0,
    traded_value: float = 0.0,
    commissions: float | None = None,
) -> dict[str, Any]:
    """``trade_pnls``: net PnL per closed trade (base currency); ``exposure``: fraction of bars with a
    position open; ``traded_value``: Σ |qty| × price × multiplier of fills, in the base currency."""
    depth, peak, trough, recovery = drawdown(equity)
    vol, sharpe, sortino = _ratios(*period_returns(equity, cash))
    pnls = np.empty(0) if trade_pnls is None else np.asarray(trade_pnls, dtype=np.float64)
    wins = int((pnls > 0).sum())
    mean_equity = float(equity.mean()) if len(equity) else cash
    return {
        "final_equity": final_equity,
        "total_return": final_equity / cash - 1.0 if cash else math.nan,
        "cagr": cagr(equity, cash, final_equity),
        "volatility": vol,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": depth,
        "max_drawdown_peak": peak,
        "max_drawdown_trough": trough,
        "max_drawdown_recovery": recovery,
        "trades": trades,
        "win_rate": wins / len(pnls) if len(pnls) else math.nan,
        "avg_trade_pnl": float(pnls.mean()) if len(pnls) else math.nan,
        "exposure": exposure,
        "turnover": traded_value / mean_equity if mean_equity > 0 else math.nan,
        "fills": len(fills),
        "commissions": (
            commissions
            if commissions is not None
            else (float(fills["commission"].sum()) if len(fills) else 0.0)
        ),
        "bars": bars,
        "start": equity.index[0] if len(equity) else None,
        "end": equity.index[-1] if len(equity) else None,
    }
