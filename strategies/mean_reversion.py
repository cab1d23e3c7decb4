"""Mean reversion with limit orders: buy a stretch below the average, sell back at the average."""

from __future__ import annotations

import math
from typing import TypeGuard

from mats.brokers import OrderHandle
from mats.model import Bar, Fill, Side
from mats.strategy import BaseStrategy
from strategies.indicators import RollingMean


def working(order: OrderHandle | None) -> TypeGuard[OrderHandle]:
    return order is not None and not order.is_done


def move(order: OrderHandle, price: float) -> None:
    """Re-price a working limit order (IB's cancel/replace), unless it already sits on that tick."""
    if order.instrument.round_price(price) != order.limit_price:
        order.modify(limit_price=price)


class MeanReversion(BaseStrategy):
    """Long-only mean reversion on the z-score of the close against its ``lookback``-bar mean and
    standard deviation.

    - When the close is ``entry_z`` deviations or more below the mean, rest a limit buy of ``qty``
      ``discount`` under the close; while the stretch lasts, move that bid to each new close. One bid
      at a time, and none while shares are held; it is cancelled once the close is back within
      ``entry_z`` deviations.
    - Each buy fill is offered back at the mean with a GTC limit sell, which follows the mean bar by bar
      until it fills.

    No stop: a close that keeps falling is held until it comes back to its (falling) average.
    """

    params = {"lookback": 20, "entry_z": 2.0, "discount": 0.001, "qty": 10}

    def initialize_strategy(self) -> None:
        self.closes = RollingMean(self.p.lookback)
        self.squares = RollingMean(self.p.lookback)  # mean of close², for the variance
        self.mean: float | None = None
        self.bid: OrderHandle | None = None
        self.offer: OrderHandle | None = None

    def run_strategy(self, bar: Bar) -> None:
        mean = self.closes.update(bar.close)
        mean_of_squares = self.squares.update(bar.close * bar.close)
        if mean is None or mean_of_squares is None:
            return  # still warming up
        self.mean = mean
        if working(self.offer):
            move(self.offer, mean)  # the exit is at the mean, wherever the mean is now
        std = math.sqrt(max(mean_of_squares - mean * mean, 0.0))
        if std == 0.0:
            return
        stretched = (bar.close - mean) / std <= -self.p.entry_z
        entry = bar.close * (1 - self.p.discount)
        if working(self.bid):
            if stretched:
                move(self.bid, entry)
            else:
                self.bid.cancel()  # the stretch is gone: stop bidding
                self.bid = None
        elif stretched and self.position(bar.symbol).qty == 0 and not self.open_orders():
            self.bid = self.place_order(bar.symbol, self.p.qty, limit_price=entry)

    def on_fill(self, fill: Fill) -> None:
        if fill.side is not Side.BUY or self.mean is None:
            return
        held = self.position(fill.symbol).qty  # this fill included
        if held <= 0:
            return
        if working(self.offer):
            self.offer.modify(qty=-held)  # a partial fill of the bid: offer what is now held
        else:
            self.offer = self.place_order(fill.symbol, -held, limit_price=self.mean, tif="GTC")
