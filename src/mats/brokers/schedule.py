"""Timers a strategy asks for with ``schedule(every=…)`` or ``schedule(at=…, tz=…)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(eq=False)
class ScheduledJob:
    """Calls ``callback()`` every ``every``, or daily at local time ``at`` in ``tz``."""

    strategy_id: str
    callback: Callable[[], Any]
    every: timedelta | None = None
    at: time | None = None
    tz: str = "UTC"
    next_due: datetime | None = None
    cancelled: bool = field(default=False)

    def __post_init__(self) -> None:
        if (self.every is None) == (self.at is None):
            raise ValueError("schedule needs exactly one of every=timedelta or at=time")
        if self.every is not None and self.every <= timedelta(0):
            raise ValueError(f"every must be a positive timedelta, got {self.every}")
        ZoneInfo(self.tz)  # an unknown zone fails here, where the strategy asked for it

    def due_after(self, now: datetime) -> datetime:
        """The first firing strictly after ``now``."""
        if self.every is not None:
            return now + self.every
        assert self.at is not None
        zone = ZoneInfo(self.tz)
        local = now.astimezone(zone)
        candidate = datetime.combine(local.date(), self.at, tzinfo=zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.at, tzinfo=zone)
        return candidate

    def cancel(self) -> None:
        self.cancelled = True
