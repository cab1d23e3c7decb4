"""The bar a replay hands to strategies: ``mats.model.Bar``'s fields, with the time made on demand.

A tz-aware ``datetime`` costs more to build than everything else a bar needs (about 0.6 µs here), and
most strategies never read it; so the replay carries integer nanoseconds and builds ``time`` only when
asked. ``to_bar()`` gives the model's ``Bar`` when a strategy wants to keep or send one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from mats.model import Bar

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ReplayBar(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    time_ns: int  # the bar's open, nanoseconds since the epoch, UTC
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0

    @property
    def time(self) -> datetime:
        """The bar's open as a tz-aware UTC datetime (microsecond precision)."""
        return _EPOCH + timedelta(microseconds=self.time_ns // 1000)

    def to_bar(self) -> Bar:
        return Bar(self.symbol, self.time, self.open, self.high, self.low, self.close, self.volume)
