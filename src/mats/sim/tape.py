"""The price tape of one contract: what traded when, as 5-second bars, plus the history before the start.

Every price the exchange shows is recorded here, so ticks, real-time bars, historical bars and fills all
describe one path. Before the simulator started, history is either the bars handed in (replay) or a
seeded walk that ends exactly at the start price, so a chart has no seam at the start.

What was printed is kept in bounded memory, however long the simulator runs: 5-second pieces for the
newest ``FINE_KEEP_SECONDS``, folded into 1-minute pieces after that, and dropped after
``KEEP_SECONDS`` (virtual time). Bars finer than a minute asked for further back than the fine window
show the minute's whole range in the bar of its first 5 seconds; bars before the kept range are flat at
the last dropped close.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .bars import BASE_SECONDS, Bar, BarRequestError, aggregate, bucket, flat_bar

if TYPE_CHECKING:
    import pandas as pd

#: Bars one historical request may return; TWS refuses larger requests too (error 162).
MAX_BARS = 50_000
#: How far back the synthetic history of a random-walk contract reaches (reqHeadTimeStamp).
SYNTHETIC_YEARS = 5
#: Printed history kept at full 5-second resolution (virtual seconds), then folded to COARSE_SECONDS.
FINE_KEEP_SECONDS = 2 * 3600
COARSE_SECONDS = 60
#: Printed history kept at all (virtual seconds); 3 days of 1-minute pieces is ~4,300 per contract.
KEEP_SECONDS = 3 * 86400


@dataclass(frozen=True, slots=True)
class ReplayRow:
    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class Replay:
    """Bars handed in as a DataFrame, replayed as a price path: open, high/low, low/high, close per bar."""

    def __init__(self, rows: Sequence[ReplayRow]) -> None:
        if not rows:
            raise ValueError("no bars to replay")
        self.rows = list(rows)
        gaps = sorted(b.start - a.start for a, b in zip(self.rows, self.rows[1:], strict=False))
        self.seconds = gaps[len(gaps) // 2] if gaps else 60
        self._starts = [r.start for r in self.rows]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Replay:
        """Columns open/high/low/close[/volume] (any case); the index or a date/time column is the start."""
        columns = {str(c).lower(): c for c in frame.columns}
        missing = {"open", "high", "low", "close"} - columns.keys()
        if missing:
            raise ValueError(f"bars need columns open, high, low, close; missing {sorted(missing)}")
        import pandas as pd  # only when bars are handed in

        stamp_column = next(
            (columns[c] for c in ("date", "time", "timestamp", "datetime") if c in columns), None
        )
        stamps: Any = frame[stamp_column] if stamp_column is not None else frame.index
        index = pd.DatetimeIndex(pd.to_datetime(stamps))
        if index.tz is None:
            index = index.tz_localize("UTC")
        epochs = [int(t.timestamp()) for t in index]
        volume = frame[columns["volume"]] if "volume" in columns else [0.0] * len(frame)
        rows = [
            ReplayRow(e, float(o), float(h), float(lo), float(c), float(v))
            for e, o, h, lo, c, v in zip(
                epochs,
                frame[columns["open"]],
                frame[columns["high"]],
                frame[columns["low"]],
                frame[columns["close"]],
                volume,
                strict=True,
            )
        ]
        return cls(sorted(rows, key=lambda r: r.start))

    def path(self) -> list[tuple[float, float, float]]:
        """(epoch, price, size) points: each bar's OHLC at its quarters, its volume split evenly."""
        points: list[tuple[float, float, float]] = []
        step = self.seconds / 4
        for row in self.rows:
            middle = (row.low, row.high) if row.close >= row.open else (row.high, row.low)
            for k, price in enumerate((row.open, *middle, row.close)):
                points.append((row.start + k * step, price, row.volume / 4))
        return points

    def finished(self, start: float, end: float) -> list[Bar]:
        """Rows wholly inside [start, end): history never shows a bar that has not closed yet."""
        lo = bisect.bisect_left(self._starts, start)
        return [
            Bar(
                r.start,
                r.open,
                r.high,
                r.low,
                r.close,
                r.volume,
                1 if r.volume else 0,
                (r.high + r.low + r.close) / 3,
            )
            for r in self.rows[lo:]
            if r.start + self.seconds <= end
        ]

    @property
    def head(self) -> int:
        return self.rows[0].start


class Tape:
    def __init__(self, con_id: int, start: float, price: float, tick: float, seed: int) -> None:
        self.con_id = con_id
        self.start = start
        self.start_price = price
        self.tick = tick
        self.seed = seed
        self.replay: Replay | None = None
        self.last = price
        self._keys: list[int] = []  # piece starts, ascending: COARSE_SECONDS before _fine_from, then 5 s
        self._buckets: dict[int, Bar] = {}
        self._fine_from = -(1 << 62)  # pieces starting before this are 1-minute pieces
        self._dropped_close: float | None = None  # close of the newest piece dropped for age
        self.day_open = price
        self.day_high = price
        self.day_low = price
        self.day_volume = 0.0
        self.last_size = 0.0
        self.last_time = start

    # --------------------------------------------------------------- record

    def record(self, epoch: float, price: float, size: float) -> None:
        """One price print; sizes add to volume (0 for a quote-only move)."""
        key = bucket(epoch, BASE_SECONDS if epoch >= self._fine_from else COARSE_SECONDS)
        bar = self._buckets.get(key)
        if bar is None:
            bar = Bar(key, price, price, price, price, 0.0, 0, price)
            self._buckets[key] = bar
            if not self._keys or key > self._keys[-1]:
                self._keys.append(key)
                self._compact(key)
            else:
                bisect.insort(self._keys, key)
        bar.add(price, size)
        self.last = price
        self.last_size = size
        self.last_time = epoch
        self.day_high = max(self.day_high, price)
        self.day_low = min(self.day_low, price)
        self.day_volume += size

    def _compact(self, newest: int) -> None:
        """Fold 5-second pieces older than the fine window into minutes; drop pieces older than KEEP."""
        cutoff = bucket(newest - FINE_KEEP_SECONDS, COARSE_SECONDS)
        if cutoff > self._fine_from:
            lo = bisect.bisect_left(self._keys, self._fine_from)
            hi = bisect.bisect_left(self._keys, cutoff)
            minutes: dict[int, Bar] = {}
            for key in self._keys[lo:hi]:
                piece = self._buckets.pop(key)
                start = bucket(key, COARSE_SECONDS)
                into = minutes.get(start)
                if into is None:
                    minutes[start] = piece.copy(start)
                else:
                    into.merge(piece)
            self._keys[lo:hi] = list(minutes)
            self._buckets.update(minutes)
            self._fine_from = cutoff
        old = bisect.bisect_left(self._keys, newest - KEEP_SECONDS)
        if old > 0:
            for key in self._keys[:old]:
                self._dropped_close = self._buckets.pop(key).close
            del self._keys[:old]

    # ---------------------------------------------------------------- bars

    def base_bar(self, start: int) -> Bar:
        """The 5-second bar starting at `start`, flat at the last price when nothing printed."""
        bar = self._buckets.get(start)
        if bar is not None:
            return bar.copy()
        return flat_bar(start, self._price_before(start))

    def bars(self, start: float, end: float, seconds: int, now: float) -> list[Bar]:
        """Bars of `seconds` starting in [start, end), never past `now` (the last may be unfinished)."""
        end = min(end, now)
        first = bucket(start, seconds)
        if first < start:
            first += seconds
        if (end - first) / seconds > MAX_BARS:
            raise BarRequestError(f"request for more than {MAX_BARS} bars")
        if self.replay is not None and seconds >= self.replay.seconds:
            return self._replay_bars(first, end, seconds)
        if self.replay is not None:  # finer than the replayed rows: what the tape printed
            return self._recorded(max(first, bucket(self.start, seconds)), end, seconds)
        split = bucket(self.start, seconds)
        history = self._synthetic(first, min(math.ceil(end), split), seconds) if first < split else []
        return history + self._recorded(max(first, split), end, seconds)

    def _recorded(self, first: int, end: float, seconds: int) -> list[Bar]:
        bars: list[Bar] = []
        lo = bisect.bisect_left(self._keys, first)
        hi = bisect.bisect_left(self._keys, end)
        keys = self._keys[lo:hi]
        price = self._price_before(first)
        k = 0
        for start in range(first, math.ceil(end), seconds):
            bar = flat_bar(start, price)
            touched = False
            while k < len(keys) and keys[k] < start + seconds:
                piece = self._buckets[keys[k]]
                if touched:
                    bar.merge(piece)
                else:
                    bar = piece.copy(start)
                    touched = True
                k += 1
            price = bar.close
            bars.append(bar)
        return bars

    def _replay_bars(self, first: int, end: float, seconds: int) -> list[Bar]:
        """Closed rows of the replay, merged to the bar size (the last merged bar may still be growing)."""
        assert self.replay is not None
        return aggregate(self.replay.finished(first, end), max(seconds, self.replay.seconds))

    def window(self, start: int, seconds: int, now: float) -> Bar:
        """The bar of `seconds` starting at `start` as printed so far (keepUpToDate updates)."""
        return self._recorded(start, min(start + seconds, max(now, start + 1)), seconds)[0]

    def price_at(self, epoch: float) -> float:
        """The price printed last at or before `epoch` (delayed quotes)."""
        i = bisect.bisect_right(self._keys, epoch)
        if i > 0:
            return self._buckets[self._keys[i - 1]].close
        return self.start_price if self._dropped_close is None else self._dropped_close

    def _price_before(self, epoch: float) -> float:
        i = bisect.bisect_left(self._keys, epoch)
        if i > 0:
            return self._buckets[self._keys[i - 1]].close
        return self.start_price if self._dropped_close is None else self._dropped_close

    def _synthetic(self, first: int, end: int, seconds: int) -> list[Bar]:
        """A seeded walk backwards from the start price: a bar depends only on its time and size.

        Bar k counts back from the start (k = 1 ends where the tape begins), and each step draws its
        return, wiggle and volume together, so any window of any request shows the same bars.
        """
        count = (end - first) // seconds
        if count <= 0:
            return []
        split = bucket(self.start, seconds)
        back = (split - first) // seconds
        rng = random.Random(f"{self.seed}:{self.con_id}:{seconds}")
        sigma = min(0.0005 * math.sqrt(seconds), 0.02)
        close = self.start_price
        bars: list[Bar] = []
        for k in range(1, back + 1):
            open_ = close * math.exp(-rng.gauss(0.0, sigma))
            wiggle = abs(rng.gauss(0.0, sigma / 2))
            volume = float(100 * rng.randint(10, 200))
            start = split - k * seconds
            if start < end:
                o, c = self._snap(open_), self._snap(close)
                high = self._snap(max(o, c) * (1 + wiggle))
                low = self._snap(min(o, c) * (1 - wiggle))
                bars.append(Bar(start, o, high, low, c, volume, int(volume // 100), (high + low + c) / 3))
            close = open_
        bars.reverse()
        return bars

    def _snap(self, price: float) -> float:
        ticks = max(1, round(price / self.tick))
        decimals = max(0, -math.floor(math.log10(self.tick)) + 1) if self.tick < 1 else 0
        return round(ticks * self.tick, decimals)

    @property
    def head(self) -> float:
        """The earliest bar this contract has (reqHeadTimeStamp)."""
        if self.replay is not None:
            return self.replay.head
        return self.start - SYNTHETIC_YEARS * 365 * 86400
