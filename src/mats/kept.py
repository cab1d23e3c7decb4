"""What the engine keeps in memory, against its bound: ``GET /api/metrics`` shows how full each bound is.

Every container that grows with the day (finished orders, fills, fill revisions, finished refs, the event
history) has a count bound. Until it is full the heap grows by design; a soak judges the heap's slope only
once they are (``bench/soak.py``).
"""

from __future__ import annotations

import msgspec


class Kept(msgspec.Struct, frozen=True):
    """``count`` items of ``name`` in memory; the oldest are let go beyond ``bound``."""

    name: str
    count: int
    bound: int
