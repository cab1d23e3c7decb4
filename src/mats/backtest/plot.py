"""An equity-curve PNG: equity on top, drawdown below, the worst drawdown shaded.

Drawn on matplotlib's Agg canvas directly (no pyplot, no global backend switch), so it works on a
server without a display and never disturbs a notebook's own backend.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mats.backtest.result import BacktestResult


def save_equity_png(result: BacktestResult, path: str | Path, *, title: str = "") -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    equity = result.equity
    if equity.empty:
        raise ValueError("the backtest has no equity curve to plot (no bars)")
    path = Path(path)
    peaks = equity.cummax()
    drawdown = equity / peaks - 1.0
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    index = pd.DatetimeIndex(equity.index).tz_convert("UTC").tz_localize(None)
    top.plot(index, equity.to_numpy(), linewidth=1.0, color="#1f77b4", label="equity")
    top.plot(index, peaks.to_numpy(), linewidth=0.6, color="#999999", label="running peak")
    s = result.stats
    peak, trough = s.get("max_drawdown_peak"), s.get("max_drawdown_trough")
    if peak is not None and trough is not None:
        top.axvspan(peak.tz_convert("UTC").tz_localize(None), trough.tz_convert("UTC").tz_localize(None),
                    color="#d62728", alpha=0.12, label=f"max drawdown {s['max_drawdown']:.2%}")  # fmt: skip
    top.set_ylabel("equity")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(
        title or f"total return {s['total_return']:.2%} · Sharpe {s['sharpe']:.2f} · trades {s['trades']}",
        fontsize=10,
    )
    bottom.fill_between(index, drawdown.to_numpy() * 100, 0.0, color="#d62728", alpha=0.5, linewidth=0)
    bottom.set_ylabel("drawdown %")
    figure.savefig(path, format="png")
    return path
