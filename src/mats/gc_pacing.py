"""Garbage collection between messages, not inside them.

CPython collects the young generation when its allocations pass a threshold, wherever that happens: in
the middle of decoding a bar and sending its order, say. ``bench/live_latency.py`` found a collection in
about 1 span in 60 from a bar's read to its order's write, and those spans were the p99 (1.2 ms against
0.84 ms without). The ``GcPacer`` collects on the loop every ``every`` seconds, between callbacks, once
``collect_at`` young objects have piled up, so the collector's work is done in small pieces while the loop
is between messages. The automatic threshold stays, raised to ``backstop``, for a burst that allocates
more than that between two paced collections. Middle and full collections come as rarely as before:
after ``middle_every`` young and ``full_every`` middle collections (a full one was measured at 87 ms of
loop lag, so they stay rare on purpose).
"""

from __future__ import annotations

import gc
import time

import anyio

PACE_EVERY_S = 0.01
COLLECT_AT = 1_000
BACKSTOP = 20_000
MIDDLE_EVERY = 500
FULL_EVERY = 1_000


class GcPacer:
    """Paced young collections on the loop; ``install`` sets the thresholds, ``restore`` puts them back."""

    def __init__(
        self,
        *,
        every: float = PACE_EVERY_S,
        collect_at: int = COLLECT_AT,
        backstop: int = BACKSTOP,
        middle_every: int = MIDDLE_EVERY,
        full_every: int = FULL_EVERY,
    ) -> None:
        if not 0 < collect_at < backstop:
            raise ValueError(f"collect_at ({collect_at}) must be above 0 and below backstop ({backstop})")
        self.every = every
        self.collect_at = collect_at
        self.backstop = backstop
        self.middle_every = middle_every
        self.full_every = full_every
        self.collections = [0, 0, 0]  # paced collections per generation
        self.longest = 0.0  # seconds, the longest paced collection
        self._saved: tuple[int, int, int] | None = None

    def install(self) -> None:
        self._saved = gc.get_threshold()
        gc.set_threshold(self.backstop, self.middle_every, self.full_every)

    def restore(self) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def tick(self) -> int | None:
        """Collect if enough young objects are waiting; the generation collected, or None."""
        young, middle, old = gc.get_count()
        if young < self.collect_at:
            return None
        generation = 2 if old >= self.full_every else 1 if middle >= self.middle_every else 0
        started = time.perf_counter()
        gc.collect(generation)
        self.longest = max(self.longest, time.perf_counter() - started)
        self.collections[generation] += 1
        return generation

    async def run(self) -> None:
        """``tick`` every ``every`` seconds, for ever (start it in the engine's task group)."""
        while True:
            await anyio.sleep(self.every)
            self.tick()
