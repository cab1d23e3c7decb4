"""What the trader sees of a result: statistics formatted for people, and rich tables of runs and sweeps."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.table import Table

from mats.backtest.result import BacktestResult

_PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}
_ORDER = [
    "final_equity",
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_peak",
    "max_drawdown_trough",
    "max_drawdown_recovery",
    "trades",
    "win_rate",
    "avg_trade_pnl",
    "exposure",
    "turnover",
    "commissions",
    "fills",
    "bars",
    "start",
    "end",
]


def format_stat(name: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if name in _PERCENT:
            return f"{value:.2%}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_table(result: BacktestResult) -> Table:
    names = ", ".join(s["strategy_id"] for s in result.meta.get("strategies", [])) or "backtest"
    table = Table(title=f"{names} on {', '.join(result.meta.get('symbols', []))}", show_header=False)
    table.add_column("stat", style="bold")
    table.add_column("value", justify="right")
    for name in _ORDER:
        if name in result.stats:
            table.add_row(name.replace("_", " "), format_stat(name, result.stats[name]))
    return table


def sweep_table(table: pd.DataFrame, params: list[str], top: int = 20) -> Table:
    shown = table.sort_values("sharpe", ascending=False).head(top)
    columns = [*params, "total_return", "sharpe", "max_drawdown", "trades", "win_rate"]
    out = Table(title=f"sweep: {len(table)} runs, best {len(shown)} by Sharpe")
    for c in columns:
        out.add_column(c.replace("_", " "), justify="right")
    for _, row in shown.iterrows():
        out.add_row(*(format_stat(c, row[c]) if c not in params else str(row[c]) for c in columns))
    return out
