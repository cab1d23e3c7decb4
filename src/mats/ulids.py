"""ULIDs made fast and monotonic: the tail of every orderRef MATS sends.

An order's ULID is made on the tick-to-order path, and python-ulid spends several µs on each (a ``ULID``
object, then its base-32 encoder). Here the 26 Crockford digits are built from pairs looked up 10 bits at
a time. ``UlidFactory`` is also monotonic: a ULID sorts after every earlier one from the same factory even
if the wall clock steps back (NTP) or two come in one millisecond. That matters because a finished
order's ref is refused for ever by its ULID's place in time (``mats.actors.finished_refs``): a new ref
that sorted before an old one could be mistaken for it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CROCKFORD_PAIRS = [a + b for a in CROCKFORD for b in CROCKFORD]  # 10 bits → 2 digits

_RANDOM_BITS = 80
_RANDOM_LIMIT = 1 << _RANDOM_BITS


def time_digits(ms: int) -> str:
    """The 10 digits of a ULID's 48-bit millisecond timestamp (its first 50 bits, the top two zero)."""
    pairs = CROCKFORD_PAIRS
    return (
        pairs[(ms >> 40) & 1023]
        + pairs[(ms >> 30) & 1023]
        + pairs[(ms >> 20) & 1023]
        + pairs[(ms >> 10) & 1023]
        + pairs[ms & 1023]
    )


def ulid_string(ms: int, tail: int) -> str:
    """A ULID's canonical 26 digits: ``ms`` since the epoch, then an 80-bit ``tail``."""
    pairs = CROCKFORD_PAIRS
    return (
        time_digits(ms)
        + pairs[(tail >> 70) & 1023]
        + pairs[(tail >> 60) & 1023]
        + pairs[(tail >> 50) & 1023]
        + pairs[(tail >> 40) & 1023]
        + pairs[(tail >> 30) & 1023]
        + pairs[(tail >> 20) & 1023]
        + pairs[(tail >> 10) & 1023]
        + pairs[tail & 1023]
    )


class UlidFactory:
    """New ULIDs, each sorting after the last: random within a new millisecond, the last plus one within
    the same (or an earlier) one, as the ULID spec's monotonic mode does."""

    def __init__(
        self,
        *,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        bits: Callable[[int], int] = random.SystemRandom().getrandbits,
    ) -> None:
        self._clock_ms = clock_ms
        self._bits = bits
        self._last_ms = -1
        self._last_tail = 0

    def new(self) -> str:
        ms = self._clock_ms()
        if ms > self._last_ms:
            self._last_ms, self._last_tail = ms, self._bits(_RANDOM_BITS - 1)  # headroom for the + 1s
        else:
            self._last_tail += 1
            if self._last_tail >= _RANDOM_LIMIT:  # 2**79 orders in one millisecond: move time on instead
                self._last_ms, self._last_tail = self._last_ms + 1, 0
        return ulid_string(self._last_ms, self._last_tail)
