"""Bars: IB's duration and bar-size strings, aggregation of finer bars, and bar dates as TWS writes them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

#: The finest bar the simulator keeps; real-time bars are exactly this long.
BASE_SECONDS = 5

_UNITS = {"sec": 1, "secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600}
_UNITS |= {"day": 86400, "days": 86400, "week": 7 * 86400, "weeks": 7 * 86400, "month": 30 * 86400}
_DURATION_UNITS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
_BAR_SIZE = re.compile(r"^\s*(\d+)\s+([a-z]+)\s*$")
_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$")


class BarRequestError(ValueError):
    """A historical request TWS would refuse (bad size or duration, too many bars)."""


@dataclass(slots=True)
class Bar:
    """One OHLC bar starting at `start` (epoch seconds); `wap` is volume-weighted when there was volume."""

    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    count: int = 0
    wap: float = 0.0

    def add(self, price: float, size: float) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        if size > 0:
            self.wap = (self.wap * self.volume + price * size) / (self.volume + size)
            self.volume += size
        self.count += 1

    def merge(self, other: Bar) -> None:
        self.high = max(self.high, other.high)
        self.low = min(self.low, other.low)
        self.close = other.close
        if other.volume > 0:
            total = self.volume + other.volume
            self.wap = (self.wap * self.volume + other.wap * other.volume) / total
            self.volume = total
        self.count += other.count

    def copy(self, start: int | None = None) -> Bar:
        return Bar(
            self.start if start is None else start,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.count,
            self.wap,
        )


def flat_bar(start: int, price: float) -> Bar:
    return Bar(start, price, price, price, price, 0.0, 0, price)


def parse_bar_size(text: str) -> int:
    """ "1 min" → 60, "5 secs" → 5, "1 day" → 86400."""
    match = _BAR_SIZE.match(text.lower())
    if match is None or match.group(2) not in _UNITS or int(match.group(1)) <= 0:
        raise BarRequestError(f"invalid bar size {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_duration(text: str) -> int:
    """ "1 D" → 86400, "3600 S" → 3600, "2 W", "1 M" (30 days), "1 Y" (365 days)."""
    match = _DURATION.match(text.upper())
    if match is None or int(match.group(1)) <= 0:
        raise BarRequestError(f"invalid duration {text!r}")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_end(text: str, now: float) -> float:
    """endDateTime: "" (now), "YYYYMMDD HH:MM:SS[ zone]" or "YYYYMMDD-HH:MM:SS" (UTC)."""
    text = text.strip()
    if not text:
        return now
    head, _, zone = text.replace("-", " ", 1).partition(" ")
    clock_part, _, zone = zone.partition(" ")
    try:
        stamp = dt.datetime.strptime(head + " " + (clock_part or "23:59:59"), "%Y%m%d %H:%M:%S")
        tz = ZoneInfo(zone) if zone else dt.UTC
    except (ValueError, KeyError) as e:
        raise BarRequestError(f"invalid end date/time {text!r}") from e
    return stamp.replace(tzinfo=tz).timestamp()


def bucket(epoch: float, seconds: int) -> int:
    """Start of the bar of length `seconds` that holds `epoch` (bars align to the UTC epoch)."""
    return int(epoch // seconds) * seconds


def aggregate(bars: Iterable[Bar], seconds: int) -> list[Bar]:
    """Merge consecutive finer bars into bars of `seconds`; input in time order."""
    merged: list[Bar] = []
    for bar in bars:
        start = bucket(bar.start, seconds)
        if merged and merged[-1].start == start:
            merged[-1].merge(bar)
        else:
            merged.append(bar.copy(start))
    return merged


def bar_date(start: int, seconds: int, format_date: int, time_zone: str) -> str:
    """Bar `date` as TWS writes it: daily `YYYYMMDD`; intraday `YYYYMMDD HH:MM:SS zone`; or epoch seconds."""
    if seconds >= 86400:
        return dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y%m%d")
    if format_date == 2:
        return str(start)
    local = dt.datetime.fromtimestamp(start, ZoneInfo(time_zone))
    return local.strftime("%Y%m%d %H:%M:%S ") + time_zone


def head_date(epoch: float, format_date: int) -> str:
    if format_date == 2:
        return str(int(epoch))
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"
