"""IB's pacing rules as awaitable gates, so MATS slows itself down instead of earning 100s and 162s.

- 50 messages per second per client (ib_async throttles each client at 45/s; we keep 50 as a ceiling
  for requests MATS fans out itself, e.g. resubscribing everything after a 1101);
- historical data: at most 60 requests per 10 minutes, no identical request within 15 s, at most 5
  requests for the same contract within 2 s;
- real-time bars: at most 60 new requests per 10 minutes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

import anyio


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds; ``acquire`` waits for the oldest to age out."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a pacing window needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._times: deque[float] = deque()
        self._lock = anyio.Lock()

    def delay(self) -> float:
        """Seconds until one more event would be allowed (0 when it is allowed now)."""
        now = self._clock()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window - now

    async def acquire(self) -> float:
        """Wait for room, record the event, return how long it waited."""
        waited = 0.0
        async with self._lock:
            while (delay := self.delay()) > 0:
                waited += delay
                await self._sleep(delay)
            self._times.append(self._clock())
        return waited


class HistoricalPacer:
    """The three historical-data rules at once; ``key`` identifies an exact request."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._overall = SlidingWindow(60, 600.0, clock=clock, sleep=sleep)
        self._per_contract: dict[Hashable, SlidingWindow] = {}
        self._last_identical: dict[Hashable, float] = {}
        self._lock = anyio.Lock()

    async def acquire(self, contract: Hashable, request: Hashable) -> float:
        waited = 0.0
        async with self._lock:
            last = self._last_identical.get(request)
            if last is not None and (gap := 15.0 - (self._clock() - last)) > 0:
                waited += gap
                await self._sleep(gap)
            window = self._per_contract.setdefault(
                contract, SlidingWindow(5, 2.0, clock=self._clock, sleep=self._sleep)
            )
            waited += await window.acquire()
            waited += await self._overall.acquire()
            self._last_identical[request] = self._clock()
        return waited


class Pacing:
    """The gates one IB connection set shares (a Gateway applies these limits per session)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.messages = SlidingWindow(50, 1.0, clock=clock, sleep=sleep)
        self.historical = HistoricalPacer(clock=clock, sleep=sleep)
        self.realtime_bars = SlidingWindow(60, 600.0, clock=clock, sleep=sleep)
