"""The reference strategy: long-only moving-average crossover."""

from __future__ import annotations

from mats.model import Bar
from mats.strategy import BaseStrategy
from strategies.indicators import RollingMean


class SmaCross(BaseStrategy):
    """Buy ``qty`` when the fast SMA of closes crosses above the slow one; sell it all when it crosses below.

    A cross is a change of the sign of (fast − slow) against its last non-zero sign.
    """

    params = {"fast": 10, "slow": 50, "qty": 10}

    def initialize_strategy(self) -> None:
        self.fast = RollingMean(self.p.fast)
        self.slow = RollingMean(self.p.slow)
        self.last_sign = 0

    def run_strategy(self, bar: Bar) -> None:
        fast = self.fast.update(bar.close)
        slow = self.slow.update(bar.close)
        if fast is None or slow is None:
            return  # still warming up
        sign = (fast > slow) - (fast < slow)
        if sign == 0:
            return
        crossed = self.last_sign != 0 and sign != self.last_sign
        self.last_sign = sign
        if not crossed:
            return
        held = self.position(bar.symbol).qty
        if sign > 0 and held == 0:
            self.place_order(bar.symbol, self.p.qty)
        elif sign < 0 and held > 0:
            self.place_order(bar.symbol, -held)
