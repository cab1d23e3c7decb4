"""Pulse: opens a position, then closes it, every ``every`` bars. A heartbeat strategy for demos and
tests: it trades often and predictably, so fills show up within a minute of starting it."""

from __future__ import annotations

from mats.model import Bar
from mats.strategy import BaseStrategy


class Pulse(BaseStrategy):
    """Opens ``qty`` (long or short by ``direction``), then closes it, every ``every`` bars."""

    params = {"qty": 10, "every": 3, "direction": 1}

    def initialize_strategy(self) -> None:
        if self.p.direction not in (1, -1):
            raise ValueError(f"direction must be 1 (long) or -1 (short), got {self.p.direction!r}")
        self.bars = 0

    async def run_strategy(self, bar: Bar) -> None:
        self.bars += 1
        if self.bars % self.p.every:
            return
        held = self.position(bar.symbol).qty
        if held == 0:
            await self.place_order(bar.symbol, self.p.direction * self.p.qty)
        else:
            await self.place_order(bar.symbol, -held)
