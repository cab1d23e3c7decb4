"""Reference prices: a seeded random walk per contract that tests and the control API can pin."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

from .contracts import ContractSpec


def round_to_tick(price: float, tick: float) -> float:
    """Snap to the contract's tick grid, keeping a clean decimal representation."""
    ticks = round(price / tick)
    decimals = max(0, -math.floor(math.log10(tick)) + 1) if tick < 1 else 0
    return round(ticks * tick, decimals)


class PriceWalk:
    """One price per conId; `step()` moves each by a seeded Gaussian return, `set()` pins one.

    The same seed gives the same path, so a failing scenario replays exactly. Part 2 (market data, the
    virtual clock) drives `step()` from its clock and publishes the ticks.
    """

    def __init__(self, contracts: Iterable[ContractSpec], seed: int, volatility: float = 0.0005) -> None:
        self._rng = random.Random(seed)
        self._volatility = volatility
        self._specs = {c.con_id: c for c in contracts}
        self._prices = {c.con_id: c.start_price for c in self._specs.values()}
        self._pinned: set[int] = set()  # replayed contracts: the walk leaves them alone

    def price(self, con_id: int) -> float:
        return self._prices[con_id]

    def set(self, con_id: int, price: float) -> None:
        if not price > 0 or not math.isfinite(price):
            raise ValueError(f"price must be a positive finite number, got {price!r}")
        self._prices[con_id] = round_to_tick(price, self._specs[con_id].min_tick)

    def pin(self, con_id: int) -> None:
        """Take a contract off the walk (its prices come from replayed bars)."""
        self._pinned.add(con_id)

    def step(self) -> list[int]:
        """One walk step for every contract not pinned; returns the conIds that moved."""
        moved: list[int] = []
        for con_id, spec in self._specs.items():
            shock = self._rng.gauss(0.0, self._volatility)  # drawn for pinned ones too: same seed, same path
            if con_id in self._pinned:
                continue
            walked = self._prices[con_id] * math.exp(shock)
            price = max(spec.min_tick, round_to_tick(walked, spec.min_tick))
            if price != self._prices[con_id]:
                self._prices[con_id] = price
                moved.append(con_id)
        return moved
