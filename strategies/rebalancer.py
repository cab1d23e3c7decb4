"""Equal-weight rebalancing on a schedule, sized from the strategy's ``target_weight`` of the account."""

from __future__ import annotations

from mats.brokers import OrderHandle
from mats.model import Bar
from mats.strategy import BaseStrategy


def settled(order: OrderHandle) -> bool:
    """Done at IB, and every execution it had is in this strategy's position."""
    return order.is_done and sum(fill.qty for fill in order.fills) >= order.filled_qty


class Rebalancer(BaseStrategy):
    """Holds each of its symbols at an equal share of ``get_equity()`` (target_weight × account equity,
    or the strategy's explicit equity).

    Every ``every`` (``"1min"``, ``"1h"``), or daily ``at`` a local time in ``tz`` when ``at`` is set,
    each symbol's target is its share of equity at its last close, in whole shares (or contracts, with
    the multiplier); the difference from what is held is bought or sold at market. Prices are taken as
    in the base currency (no FX conversion). Differences worth less than ``min_trade`` of a share of
    equity (1% by default) are left alone, and a symbol whose last order is still working waits for the
    next rebalance.
    """

    params = {"every": "1min", "at": "", "tz": "America/New_York", "min_trade": 0.01}

    def initialize_strategy(self) -> None:
        self.last_close: dict[str, float] = {}
        self.orders: dict[str, OrderHandle] = {}
        self.targets: dict[str, int] = {}  # whole shares per symbol, as of the last rebalance
        if self.p.at:
            self.schedule(self.rebalance, at=self.p.at, tz=self.p.tz)
        else:
            self.schedule(self.rebalance, every=self.p.every)

    def run_strategy(self, bar: Bar) -> None:
        self.last_close[bar.symbol] = bar.close

    def rebalance(self) -> None:
        if len(self.last_close) < len(self.symbols):
            return  # a symbol has no price yet
        share = self.get_equity() / len(self.symbols)
        for symbol, price in self.last_close.items():
            order = self.orders.get(symbol)
            if order is not None and not settled(order):
                continue
            held = self.position(symbol)
            unit = price * held.multiplier  # what one share (or one contract: ES is 50 × price) is worth
            target = round(share / unit)
            self.targets[symbol] = target
            difference = target - held.qty
            if difference and abs(difference) * unit >= self.p.min_trade * share:
                self.orders[symbol] = self.place_order(symbol, difference)
