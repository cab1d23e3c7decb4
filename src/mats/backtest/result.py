"""What a backtest returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

FILL_COLUMNS = ["symbol", "side", "qty", "price", "commission", "strategy_id"]


@dataclass(frozen=True)
class BacktestResult:
    """``fills`` indexed by time (side BUY/SELL, qty positive), ``equity`` by time, and ``stats``.

    ``trades`` has one row per round trip; ``meta`` says what ran (strategies with their resolved
    params, cash, commission, data), which is what ``save_result`` stores next to the stats.
    """

    fills: pd.DataFrame
    equity: pd.Series
    stats: dict[str, Any]
    positions: pd.DataFrame = field(default_factory=pd.DataFrame)
    strategies: dict[str, Any] = field(default_factory=dict)  # strategy_id → the instance, to inspect
    trades: pd.DataFrame = field(default_factory=pd.DataFrame)
    meta: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"<BacktestResult bars={s['bars']} fills={len(self.fills)} trades={s['trades']} "
            f"final_equity={s['final_equity']:.2f} total_return={s['total_return']:.4%}>"
        )
