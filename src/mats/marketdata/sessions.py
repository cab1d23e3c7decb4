"""An exchange's trading sessions as plain numbers, so bars can be aligned to them on the loop cheaply.

``exchange_calendars`` answers every question we need, but loading a calendar costs a second or more of CPU
and each query tens of microseconds: too much for every 5-second bar on the event loop. ``Sessions`` takes
the calendar's schedule once (off the loop) as two sorted arrays of epoch seconds, and answers "which
session holds this instant?" with a bisection, or at once when it is the same session as last time.
Half days and holidays come with the schedule; lunch breaks (XHKG, XTKS) are ignored: a session runs from
its open to its close.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from functools import cache

import exchange_calendars as xcals
import structlog

log = structlog.get_logger("mats.marketdata")

ROUND_THE_CLOCK = ("24/5", "24/7")  # no sessions to align to: bars follow the clock


class Sessions:
    """Sorted ``(open, close)`` pairs in epoch seconds (UTC)."""

    def __init__(self, name: str, opens: Sequence[int], closes: Sequence[int]) -> None:
        if len(opens) != len(closes):
            raise ValueError("a session needs both an open and a close")
        self.name = name
        self._opens = list(opens)
        self._closes = list(closes)
        self._last: tuple[int, int] | None = None

    def session_at(self, epoch: int) -> tuple[int, int] | None:
        """The ``(open, close)`` of the session in progress at ``epoch`` (open ≤ epoch < close), else None."""
        last = self._last
        if last is not None and last[0] <= epoch < last[1]:
            return last
        i = bisect.bisect_right(self._closes, epoch)  # the first session that closes after epoch
        if i == len(self._closes) or self._opens[i] > epoch:
            return None
        self._last = (self._opens[i], self._closes[i])
        return self._last


_loading = threading.Lock()
_loaded: dict[str, Sessions | None] = {}  # read on the loop without the lock (a dict lookup is atomic)


def load_sessions(calendar: str) -> Sessions | None:
    """``calendar``'s sessions (blocking, a second or more the first time: call it off the loop); None for
    a market that trades around the clock or a calendar exchange_calendars does not know.

    One load at a time: forty strategies subscribing at once must not build forty XNYS calendars in forty
    threads, fighting the loop for the GIL (measured: strategies then started two per second)."""
    with _loading:
        sessions = _loaded[calendar] = _load(calendar)
        return sessions


def loaded_sessions(calendar: str) -> Sessions | bool | None:
    """Non-blocking, for the loop: the sessions if ``load_sessions`` already ran for ``calendar`` (None:
    round the clock or unknown), else False."""
    return _loaded.get(calendar, False)


@cache
def _load(calendar: str) -> Sessions | None:
    if calendar in ROUND_THE_CLOCK:
        return None
    try:
        schedule = xcals.get_calendar(calendar).schedule
    except Exception as exc:  # an unknown name: bars follow the clock rather than not at all
        log.warning("marketdata.unknown_calendar", calendar=calendar, error=str(exc))
        return None
    opens = [int(t.timestamp()) for t in schedule["open"]]
    closes = [int(t.timestamp()) for t in schedule["close"]]
    return Sessions(calendar, opens, closes)
