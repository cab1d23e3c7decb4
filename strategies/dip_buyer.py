"""A limit-order example: bid below the market, then sell at a profit target."""

from __future__ import annotations

from mats.brokers import OrderHandle
from mats.model import Bar, Fill, Side
from mats.strategy import BaseStrategy


class DipBuyer(BaseStrategy):
    """Bids ``discount`` below the last close; cancels the bid if the dip has not come after ``patience``
    bars; once bought, offers the shares ``target`` above the fill price with a GTC limit."""

    params = {"qty": 10, "discount": 0.002, "target": 0.004, "patience": 5}

    def initialize_strategy(self) -> None:
        self.bid: OrderHandle | None = None
        self.bars_waiting = 0

    async def run_strategy(self, bar: Bar) -> None:
        if self.bid is not None and not self.bid.is_done:
            self.bars_waiting += 1
            if self.bars_waiting >= self.p.patience:
                self.bid.cancel()  # the dip did not come; bid again from the next close
            return
        if self.position(bar.symbol).qty == 0 and not self.open_orders():
            price = bar.close * (1 - self.p.discount)  # rounded to the instrument's tick by MATS
            self.bid = await self.place_order(bar.symbol, self.p.qty, limit_price=price)
            self.bars_waiting = 0

    def on_fill(self, fill: Fill) -> None:
        if fill.side is Side.BUY:
            target = fill.price * (1 + self.p.target)
            self.place_order(fill.symbol, -fill.qty, limit_price=target, tif="GTC")
