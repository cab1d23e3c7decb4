"""Time as the simulator sees it; part 2 swaps in a virtual clock with a speed factor behind this seam."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the exchange needs from time: the current instant and delayed callbacks on the loop."""

    def now(self) -> dt.datetime: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class WallClock:
    """Real time on the running loop; `speed` shortens delays (2.0 runs latencies twice as fast)."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.speed = speed

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay / self.speed, callback)


def ib_time(moment: dt.datetime) -> str:
    """`YYYYMMDD HH:MM:SS UTC`: a zone ib_async parses, so fill times are unambiguous."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"
