"""Loop-lag monitor: proof that nothing blocks the event loop.

A task asks to wake every ``interval`` seconds and records how late it actually woke. A handler that
blocks the loop for 200 ms shows up here as a 200 ms lag sample, and past ``alert_ms`` as an alert.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

import msgspec
import structlog

log = structlog.get_logger("mats.looplag")


class LagStats(msgspec.Struct, frozen=True):
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    last_ms: float


class LoopLagMonitor:
    def __init__(
        self,
        *,
        interval: float = 0.05,
        window: int = 1_200,
        alert_ms: float = 100.0,
        on_alert: Callable[[float], None] | None = None,
    ) -> None:
        self.interval = interval
        self.alert_ms = alert_ms
        self.on_alert = on_alert
        self._samples: deque[float] = deque(maxlen=window)
        self.max_ms = 0.0
        self.count = 0
        self._sampled = asyncio.Event()

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.record((time.perf_counter() - started - self.interval) * 1000.0)

    def record(self, lag_ms: float) -> None:
        lag_ms = max(lag_ms, 0.0)
        self._samples.append(lag_ms)
        self.count += 1
        self.max_ms = max(self.max_ms, lag_ms)
        self._sampled.set()
        if lag_ms >= self.alert_ms:
            log.warning("loop.lag", lag_ms=round(lag_ms, 1))
            if self.on_alert is not None:
                self.on_alert(lag_ms)

    async def next_sample(self) -> None:
        self._sampled.clear()
        await self._sampled.wait()

    def stats(self) -> LagStats:
        ordered = sorted(self._samples)
        if not ordered:
            return LagStats(samples=0, p50_ms=0.0, p99_ms=0.0, max_ms=0.0, last_ms=0.0)
        return LagStats(
            samples=self.count,
            p50_ms=ordered[len(ordered) // 2],
            p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            max_ms=self.max_ms,
            last_ms=self._samples[-1],
        )
