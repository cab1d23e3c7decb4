"""IB's pacing limits (off by default): 50 messages/s per client, historical-data and real-time-bar quotas.

Counting only; the session and the feeds decide what to answer (error 100, 162, 420).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

MAX_MESSAGES_PER_SECOND = 50
HISTORICAL_PER_10_MIN = 60
HISTORICAL_IDENTICAL_WINDOW = 15.0
HISTORICAL_SAME_CONTRACT = 6  # six or more for one contract within two seconds is a violation
HISTORICAL_SAME_CONTRACT_WINDOW = 2.0
REAL_TIME_BARS_PER_10_MIN = 60


class Window:
    """Events in the last `seconds`; `hit(now)` records one and says how many are in the window."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._times: deque[float] = deque()

    def hit(self, now: float) -> int:
        while self._times and now - self._times[0] >= self.seconds:
            self._times.popleft()
        self._times.append(now)
        return len(self._times)


@dataclass(slots=True)
class HistoricalPacer:
    """IB's historical rules: ≤60 per 10 min, no identical request within 15 s, <6 per contract in 2 s."""

    total: Window = field(default_factory=lambda: Window(600.0))
    identical: dict[tuple[object, ...], float] = field(default_factory=dict)
    per_contract: dict[int, Window] = field(default_factory=dict)

    def violation(self, key: tuple[object, ...], con_id: int, now: float) -> str:
        """Empty when allowed (and then counted), else why not."""
        last = self.identical.get(key)
        self.identical[key] = now
        if last is not None and now - last < HISTORICAL_IDENTICAL_WINDOW:
            return "identical request within 15 seconds"
        window = self.per_contract.setdefault(con_id, Window(HISTORICAL_SAME_CONTRACT_WINDOW))
        if window.hit(now) >= HISTORICAL_SAME_CONTRACT:
            return "six or more requests for the same contract within two seconds"
        if self.total.hit(now) > HISTORICAL_PER_10_MIN:
            return "more than 60 requests within ten minutes"
        return ""
