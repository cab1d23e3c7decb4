"""Statistics of a backtest from its equity curve and fills."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

_YEAR_SECONDS = 365.25 * 24 * 3600


def max_drawdown(equity: pd.Series) -> float:
    """The largest fall from a running peak, as a positive fraction of that peak."""
    if equity.empty:
        return 0.0
    values = equity.to_numpy(dtype=np.float64)
    peaks = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdowns = np.where(peaks > 0, 1.0 - values / peaks, 0.0)
    return float(drawdowns.max())


def sharpe_ratio(equity: pd.Series) -> float:
    """Annualised Sharpe of per-bar returns (risk-free 0), bars per year taken from the data's span."""
    if len(equity) < 3:
        return 0.0
    returns = np.diff(equity.to_numpy(dtype=np.float64)) / equity.to_numpy(dtype=np.float64)[:-1]
    std = float(returns.std(ddof=1))
    span = (equity.index[-1] - equity.index[0]).total_seconds()
    if std == 0.0 or not math.isfinite(std) or span <= 0:
        return 0.0
    periods_per_year = len(returns) / (span / _YEAR_SECONDS)
    return float(returns.mean() / std * math.sqrt(periods_per_year))


def compute_stats(
    equity: pd.Series, fills: pd.DataFrame, *, cash: float, final_equity: float, trades: int, bars: int
) -> dict[str, Any]:
    return {
        "final_equity": final_equity,
        "total_return": final_equity / cash - 1.0 if cash else math.nan,
        "sharpe": sharpe_ratio(equity),
        "max_drawdown": max_drawdown(equity),
        "trades": trades,
        "fills": len(fills),
        "commissions": float(fills["commission"].sum()) if len(fills) else 0.0,
        "bars": bars,
        "start": equity.index[0] if len(equity) else None,
        "end": equity.index[-1] if len(equity) else None,
    }
