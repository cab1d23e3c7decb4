"""5-second bars → bars of a strategy's size, aligned to clock boundaries (``1min`` bars start at :00).

A bar is emitted as soon as the 5-second bar that ends its bucket arrives, so a strategy sees a minute bar
at the end of the minute, not when the next minute's first trade happens; if that last 5-second bar is
missing (no trades), the bar is emitted when the next bucket's first one arrives.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mats.model import Bar

_SIZE = re.compile(r"^\s*(\d+)\s*(s|sec|secs|second|seconds|min|mins|minute|minutes|h|hour|hours)\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60, "minute": 60,
                 "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600}  # fmt: skip
SOURCE_SECONDS = 5


def parse_bar_size(text: str) -> int:
    """``"5s"``, ``"1min"``, ``"15 mins"``, ``"1h"`` → seconds; a multiple of 5 s that divides a day."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"bar_size must look like '5s', '1min' or '1h', got {text!r}")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds < SOURCE_SECONDS or seconds % SOURCE_SECONDS or 86_400 % seconds:
        raise ValueError(f"bar_size {text!r} must be a multiple of 5 seconds that divides a day")
    return seconds


class BarAggregator:
    def __init__(self, symbol: str, bar_seconds: int) -> None:
        self.symbol = symbol
        self.size = timedelta(seconds=bar_seconds)
        self._bucket: datetime | None = None
        self._open = self._high = self._low = self._close = 0.0
        self._volume = 0.0

    def add(
        self, start: datetime, open_: float, high: float, low: float, close: float, volume: float
    ) -> list[Bar]:
        """Feed one 5-second bar (``start`` is its open time); returns the bars it completed (0, 1 or 2)."""
        start = start.astimezone(UTC)
        bucket = self._bucket_of(start)
        done: list[Bar] = []
        if self._bucket is not None and bucket != self._bucket:
            done.append(self._finish())
        if self._bucket is None:
            self._bucket = bucket
            self._open, self._high, self._low, self._close, self._volume = open_, high, low, close, volume
        else:
            self._high = max(self._high, high)
            self._low = min(self._low, low)
            self._close = close
            self._volume += volume
        if start + timedelta(seconds=SOURCE_SECONDS) >= bucket + self.size:
            done.append(self._finish())
        return done

    def _bucket_of(self, start: datetime) -> datetime:
        size = int(self.size.total_seconds())
        epoch = int(start.timestamp())
        return datetime.fromtimestamp(epoch - epoch % size, UTC)

    def _finish(self) -> Bar:
        assert self._bucket is not None
        bar = Bar(self.symbol, self._bucket, self._open, self._high, self._low, self._close, self._volume)
        self._bucket = None
        return bar
