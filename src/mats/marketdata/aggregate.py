"""5-second bars → bars of a strategy's size, aligned to the exchange's sessions (or to the clock).

With an exchange calendar (``Sessions``), a session's bars start at its open and the last one ends at its
close: hourly XNYS bars run 09:30–10:30 … 15:30–16:00 ET (13:00 on a half day), and a daily bar (``1d``) is
the whole session, emitted at its close. Outside the session (IB's real-time bars include extended hours),
intraday bars follow the clock and daily bars ignore them. Without a calendar (FX, ``24/5``), bars follow
the clock: ``1min`` bars start at :00, ``1h`` bars on the hour, ``1d`` at midnight UTC. For sizes that divide
30 minutes the two alignments agree on a 09:30 open.

A bar is emitted as soon as the 5-second bar that ends its bucket arrives, so a strategy sees a minute bar
at the end of the minute, not when the next minute's first trade happens; if that last 5-second bar is
missing (no trades), the bar is emitted when the next bucket's first one arrives, or by ``flush`` once its
end has passed (the feed calls it periodically, so a session's last bar does not wait for the next day).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mats.marketdata.sessions import Sessions
from mats.model import Bar

_SIZE = re.compile(
    r"^\s*(\d+)\s*(s|sec|secs|second|seconds|min|mins|minute|minutes|h|hour|hours|d|day|days)\s*$", re.I
)
_UNIT_SECONDS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60, "minute": 60,
                 "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600, "d": 86_400, "day": 86_400,
                 "days": 86_400}  # fmt: skip
SOURCE_SECONDS = 5
DAY = 86_400


def parse_bar_size(text: str) -> int:
    """``"5s"``, ``"1min"``, ``"15 mins"``, ``"1h"``, ``"1d"`` → seconds; a multiple of 5 s that divides a
    day (``1d`` is one bar per session)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"bar_size must look like '5s', '1min', '1h' or '1d', got {text!r}")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds < SOURCE_SECONDS or seconds % SOURCE_SECONDS or DAY % seconds:
        raise ValueError(f"bar_size {text!r} must be a multiple of 5 seconds that divides a day")
    return seconds


class BarAggregator:
    def __init__(self, symbol: str, bar_seconds: int, sessions: Sessions | None = None) -> None:
        self.symbol = symbol
        self.seconds = bar_seconds
        self.size = timedelta(seconds=bar_seconds)
        self.sessions = sessions
        self._bucket: int | None = None  # epoch seconds of the pending bar's start …
        self._end = 0  # … and of its end
        self._open = self._high = self._low = self._close = 0.0
        self._volume = 0.0

    def add(
        self, start: datetime, open_: float, high: float, low: float, close: float, volume: float
    ) -> list[Bar]:
        """Feed one 5-second bar (``start`` is its open time); returns the bars it completed (0, 1 or 2)."""
        epoch = int(start.timestamp())
        bucket = self._bucket_of(epoch)
        done: list[Bar] = []
        if self._bucket is not None and (bucket is None or bucket[0] != self._bucket):
            done.append(self._finish())
        if bucket is None:
            return done  # outside every session, for a bar that only exists inside one
        if self._bucket is None:
            self._bucket, self._end = bucket
            self._open, self._high, self._low, self._close, self._volume = open_, high, low, close, volume
        else:
            self._high = max(self._high, high)
            self._low = min(self._low, low)
            self._close = close
            self._volume += volume
        if epoch + SOURCE_SECONDS >= self._end:
            done.append(self._finish())
        return done

    def flush(self, now: datetime) -> list[Bar]:
        """The pending bar, if its end has passed without the 5-second bar that would have closed it."""
        if self._bucket is not None and now.timestamp() >= self._end:
            return [self._finish()]
        return []

    def _bucket_of(self, epoch: int) -> tuple[int, int] | None:
        """``(start, end)`` of the bar holding the 5-second bar that starts at ``epoch``; None to skip it."""
        size = self.seconds
        session = self.sessions.session_at(epoch) if self.sessions is not None else None
        if session is not None:
            opened, closes = session
            if size >= DAY:
                return opened, closes
            start = opened + (epoch - opened) // size * size
            return start, min(start + size, closes)
        if size >= DAY and self.sessions is not None:
            return None  # a daily bar is its session: extended hours stay out of it
        start = epoch - epoch % size
        return start, start + size

    def _finish(self) -> Bar:
        assert self._bucket is not None
        bar = Bar(
            self.symbol,
            datetime.fromtimestamp(self._bucket, UTC),
            self._open,
            self._high,
            self._low,
            self._close,
            self._volume,
        )
        self._bucket = None
        return bar
