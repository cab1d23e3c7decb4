"""A strategy that runs a script of actions at given bar numbers, and hand-made bars."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from mats.model import Bar, Fill, OrderStatus
from mats.strategy import BaseStrategy

Action = Callable[["Scripted", Bar], Any]


class Scripted(BaseStrategy):
    params = {"script": {}}  # noqa: RUF012  (bar number → action(strategy, bar))

    def initialize_strategy(self) -> None:
        self.i = -1
        self.handles: list[Any] = []
        self.fills: list[Fill] = []
        self.statuses: list[OrderStatus] = []
        self.seen: list[Any] = []

    def run_strategy(self, bar: Bar) -> None:
        self.i += 1
        action = self.p.script.get(self.i)
        if action is not None:
            action(self, bar)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_order_status(self, status: OrderStatus) -> None:
        self.statuses.append(status)


def bars(
    rows: Sequence[tuple[float, float, float, float]], start: str = "2026-03-02 14:30", freq: str = "min"
) -> pd.DataFrame:
    """Bars from (open, high, low, close) rows."""
    index = pd.date_range(start, periods=len(rows), freq=freq, tz="UTC")
    return pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=index)
