"""EquityTracker: the account's equity and each strategy's PnL sampled over time, with daily PnL.

Samples come from IB's NetLiquidation (the account) and the PortfolioManager's books at IB's portfolio
prices (strategies). They are kept in memory for the UI's curves; the daily PnL resets at the configured
time (default 17:00 New York).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time

import msgspec

from mats.accounting import DailyPnL


class EquityPoint(msgspec.Struct, frozen=True):
    at: datetime
    equity: float


class EquityTracker:
    def __init__(
        self,
        total_equity: Callable[[], float],
        strategy_pnl: Callable[[], Mapping[str, float]],
        *,
        reset: str = "17:00",
        tz: str = "America/New_York",
        interval: float = 10.0,
        keep: int = 8_640,  # a day of 10-second samples
    ) -> None:
        self._total_equity = total_equity
        self._strategy_pnl = strategy_pnl
        self.interval = interval
        self.daily = DailyPnL(time.fromisoformat(reset), tz)
        self.daily_pnl = 0.0
        self.account: deque[EquityPoint] = deque(maxlen=keep)
        self.strategies: dict[str, deque[EquityPoint]] = {}
        self._keep = keep

    def sample(self, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        equity = self._total_equity()
        if equity:
            self.account.append(EquityPoint(at, equity))
            self.daily_pnl = self.daily.update(at, equity)
        for strategy_id, pnl in self._strategy_pnl().items():
            self.strategies.setdefault(strategy_id, deque(maxlen=self._keep)).append(EquityPoint(at, pnl))

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)
