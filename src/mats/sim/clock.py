"""Time as the simulator sees it: one virtual clock that fills, ticks, bars and session ends all share.

`VirtualClock` runs `speed` times faster than the wall (`--speed 60`: a minute per second) or, paused,
moves only when told (`advance(seconds)`), so tests drive a day of bars without sleeping through it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("mats.sim.clock")


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the exchange needs from time: the current instant and delayed callbacks on the loop."""

    def now(self) -> dt.datetime: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class WallClock:
    """Real time on the running loop; `speed` shortens delays (kept for benchmarks that want no heap)."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.speed = speed

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay / self.speed, callback)


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "due", "seq")

    def __init__(self, due: float, seq: int, callback: Callable[[], None]) -> None:
        self.due = due
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _VirtualTimer) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class VirtualClock:
    """Virtual epoch seconds = origin + speed × wall seconds elapsed (while running).

    Timers live in one heap keyed by virtual due time; one loop timer is armed for the earliest. `advance`
    fires every timer due within the jump in order, with `now()` reading each timer's own due time, so a
    day of 5-second bars is stamped exactly even when the jump is taken at once.
    """

    def __init__(self, start: dt.datetime | None = None, speed: float = 1.0, *, running: bool = True) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        moment = start or dt.datetime.now(dt.UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        self.speed = speed
        self.running = running
        self._origin = moment.timestamp()
        self._anchor = time.monotonic()
        self._heap: list[_VirtualTimer] = []
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ reading

    def time(self) -> float:
        """Virtual epoch seconds."""
        if not self.running:
            return self._origin
        return self._origin + (time.monotonic() - self._anchor) * self.speed

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), dt.UTC)

    # ------------------------------------------------------------ steering

    def _rebase(self, epoch: float) -> None:
        self._origin = epoch
        self._anchor = time.monotonic()

    def set_speed(self, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self._rebase(self.time())
        self.speed = speed
        self._arm()

    def pause(self) -> None:
        """Stop time; only `advance` moves it now."""
        self._rebase(self.time())
        self.running = False
        self._arm()

    def resume(self) -> None:
        self._rebase(self.time())
        self.running = True
        self._arm()

    def advance(self, seconds: float) -> int:
        """Jump ahead, firing every timer due on the way in order; returns how many fired."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time ({seconds} s)")
        target = self.time() + seconds
        fired = 0
        while self._heap and self._heap[0].due <= target:
            timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._rebase(max(timer.due, self.time()) if self.running else timer.due)
            _run(timer)
            fired += 1
        self._rebase(max(target, self.time()) if self.running else target)
        self._arm()
        return fired

    # ------------------------------------------------------------ timers

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = _VirtualTimer(self.time() + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        if self._heap[0] is timer:
            self._arm()
        return timer

    def call_at(self, epoch: float, callback: Callable[[], None]) -> Timer:
        return self.call_later(epoch - self.time(), callback)

    def _arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        if not self.running or not self._heap:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop yet: the first timer set inside one arms it
            return
        wait = max(0.0, (self._heap[0].due - self.time()) / self.speed)
        self._handle = loop.call_later(wait, self._fire_due)

    def _fire_due(self) -> None:
        self._handle = None
        now = self.time()
        while self._heap and self._heap[0].due <= now + 1e-9:
            timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                _run(timer)
        self._arm()


def _run(timer: _VirtualTimer) -> None:
    """One timer's callback; a simulator bug in one must not stop time for the others."""
    try:
        timer.callback()
    except Exception:
        log.exception("clock.timer_failed callback=%r", timer.callback)


def ib_time(moment: dt.datetime) -> str:
    """`YYYYMMDD HH:MM:SS UTC`: a zone ib_async parses, so fill times are unambiguous."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"
