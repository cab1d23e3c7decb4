"""Small streaming indicators for strategies: O(1) per bar, no pandas on the hot path."""

from __future__ import annotations

import math
from collections import deque


class RollingMean:
    """The mean of the last ``period`` values, or None until there are that many.

    Keeps a running sum; once per ``period`` updates it re-adds the window exactly (``math.fsum``), so
    rounding error cannot pile up over millions of bars.
    """

    __slots__ = ("_countdown", "_sum", "_warm", "_window", "period")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.period = period
        self._window: deque[float] = deque(maxlen=period)
        self._sum = 0.0
        self._warm = False  # the window is full
        self._countdown = period  # updates left until the next exact re-sum

    def update(self, value: float) -> float | None:
        window = self._window
        if self._warm:
            self._sum += value - window[0]
            window.append(value)
        else:
            self._sum += value
            window.append(value)
            if len(window) < self.period:
                return None
            self._warm = True
        self._countdown -= 1
        if not self._countdown:
            self._sum = math.fsum(window)
            self._countdown = self.period
        return self._sum / self.period
