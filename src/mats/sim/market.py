"""The market the clients see: one tape per contract, quotes around the last price, and bar replay.

Quotes are derived from the exchange's one price per contract (bid one tick below, ask one tick above,
last at the price), and market orders fill at that last price, so what a client sees is what it gets.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .clock import Clock, Timer
from .contracts import ContractBook, ContractSpec
from .prices import PriceWalk, round_to_tick
from .tape import Replay, Tape

if TYPE_CHECKING:
    import pandas as pd

#: Quote sizes by security type (shares, contracts, currency units); the simulator has no depth.
QUOTE_SIZE = {"STK": (500.0, 400.0), "FUT": (25.0, 30.0), "CASH": (1_000_000.0, 1_000_000.0)}
#: What a walk step prints (shares or contracts), so volume grows as prices move.
PRINT_SIZE = 100.0
#: Delayed market data lags by this much (IB: 15 minutes for most exchanges).
DELAY_SECONDS = 900.0


@dataclass(frozen=True, slots=True)
class Quote:
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    last_size: float
    high: float
    low: float
    open: float
    close: float
    volume: float
    time: int
    has_trades: bool


class Market:
    def __init__(
        self,
        contracts: ContractBook,
        prices: PriceWalk,
        clock: Clock,
        seed: int,
        move_price: Callable[[int, float, float], None],
    ) -> None:
        self.contracts = contracts
        self.prices = prices
        self.clock = clock
        self._move_price = move_price
        start = clock.now().timestamp()
        self.tapes = {
            spec.con_id: Tape(spec.con_id, start, prices.price(spec.con_id), spec.min_tick, seed)
            for spec in contracts
        }
        self._replay_timers: dict[int, Timer] = {}

    def tape(self, con_id: int) -> Tape:
        return self.tapes[con_id]

    # -------------------------------------------------------------- prints

    def record(self, con_id: int, size: float) -> None:
        """The exchange moved a price (or filled `size` there): print it on the tape at the clock's time."""
        tape = self.tapes.get(con_id)
        if tape is not None:
            tape.record(self.clock.now().timestamp(), self.prices.price(con_id), size)

    # -------------------------------------------------------------- quotes

    def quote(self, spec: ContractSpec, delayed: bool = False) -> Quote:
        tape = self.tapes[spec.con_id]
        now = self.clock.now().timestamp()
        last = tape.last
        stamp = tape.last_time
        if delayed:
            last = tape.price_at(now - DELAY_SECONDS)
            stamp = min(stamp, now - DELAY_SECONDS)
        tick = spec.min_tick
        bid_size, ask_size = QUOTE_SIZE.get(spec.sec_type, (100.0, 100.0))
        return Quote(
            bid=round_to_tick(max(tick, last - tick), tick),
            ask=round_to_tick(last + tick, tick),
            last=last,
            bid_size=bid_size,
            ask_size=ask_size,
            last_size=tape.last_size or PRINT_SIZE,
            high=tape.day_high,
            low=tape.day_low,
            open=tape.day_open,
            close=tape.start_price,
            volume=tape.day_volume,
            time=int(stamp),
            has_trades=spec.sec_type != "CASH",
        )

    # -------------------------------------------------------------- replay

    def load_bars(self, con_id: int, frame: pd.DataFrame) -> Replay:
        """Replay these bars as the contract's prices from the clock's now on; earlier rows are history."""
        replay = Replay.from_frame(frame)
        tape = self.tapes[con_id]
        tape.replay = replay
        self.prices.pin(con_id)
        timer = self._replay_timers.pop(con_id, None)
        if timer is not None:
            timer.cancel()
        points = replay.path()
        now = self.clock.now().timestamp()
        i = bisect.bisect_left([p[0] for p in points], now)  # points[i:] are still to come
        if i < len(points) and points[i][0] == now:  # a print due right now plays now, volume and all
            self._move_price(con_id, points[i][1], points[i][2])
            i += 1
        else:
            current = points[i - 1][1] if i > 0 else points[0][1]
            self._move_price(con_id, current, 0.0)
        if i <= 1:
            tape.start_price = tape.day_open = tape.day_high = tape.day_low = points[0][1]
        self._schedule(con_id, points, i)
        return replay

    def _schedule(self, con_id: int, points: list[tuple[float, float, float]], i: int) -> None:
        if i >= len(points):
            self._replay_timers.pop(con_id, None)
            return
        when, price, size = points[i]

        def play() -> None:
            self._move_price(con_id, price, size)
            self._schedule(con_id, points, i + 1)

        self._replay_timers[con_id] = self.clock.call_later(when - self.clock.now().timestamp(), play)

    def replaying(self) -> list[int]:
        return [con_id for con_id, tape in self.tapes.items() if tape.replay is not None]
