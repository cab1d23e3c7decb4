"""Pulse: opens a position, then closes it, every ``every`` bars. A heartbeat strategy for demos and
tests: it trades often and predictably, so fills show up within a minute of starting it."""

from __future__ import annotations

from mats.brokers.orders import OrderHandle
from mats.model import Bar
from mats.strategy import BaseStrategy


class Pulse(BaseStrategy):
    """Opens ``qty`` (long or short by ``direction``), then closes it, every ``every`` bars.

    ``wait_for_fill``: no new order while the last one is working or its fills are not yet in the
    position. Without it, bars that come faster than fills (the demo's simulator at 120x, a loop held up
    for a moment) each close the same position again: the position doubles and swings until the risk
    limit refuses every order."""

    params = {"qty": 10, "every": 3, "direction": 1, "wait_for_fill": True}

    def initialize_strategy(self) -> None:
        if self.p.direction not in (1, -1):
            raise ValueError(f"direction must be 1 (long) or -1 (short), got {self.p.direction!r}")
        self.bars = 0
        self.last_order: OrderHandle | None = None

    async def run_strategy(self, bar: Bar) -> None:
        self.bars += 1
        if self.bars % self.p.every:
            return
        if self.p.wait_for_fill and not self.last_order_booked():
            return
        held = self.position(bar.symbol).qty
        qty = self.p.direction * self.p.qty if held == 0 else -held
        self.last_order = self.place_order(bar.symbol, qty)
        await self.last_order

    def last_order_booked(self) -> bool:
        """Every share the last order filled is in the position: all it asked for, or all it filled
        once it is done (cancelled, refused). IB sends an order's status and its executions in either
        order, so neither alone says so."""
        last = self.last_order
        if last is None:
            return True
        booked = sum(fill.qty for fill in last.fills)
        return booked >= abs(last.request.qty) or (last.is_done and booked >= last.filled_qty)
