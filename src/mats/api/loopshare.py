"""The HTTP server's share of the engine's loop: at most a few requests start per loop iteration.

asyncio runs ready callbacks first in, first out. With 32 busy keep-alive connections, every callback
of the trading path (a bar decoded, the strategy's mailbox, the order's journal commit coming back, the
placeOrder) waited behind up to 32 requests' work at each hop: tick-to-order went from 0.8 ms to 37 ms
p99 under load (bench/api_load.py). Here a request takes its turn before any work is done; beyond
``per_iteration`` turns in one iteration it waits, first come first served, for a later iteration. A
trading callback then waits behind a few requests per hop, and a closed-loop client's connection stays
quiet until its answer comes, so the socket reads per iteration shrink with it.
"""

from __future__ import annotations

import asyncio
from collections import deque

PER_ITERATION = 4


class LoopShare:
    def __init__(self, per_iteration: int = PER_ITERATION) -> None:
        if per_iteration < 1:
            raise ValueError("per_iteration must be at least 1")
        self.per_iteration = per_iteration
        self.waited = 0  # requests that had to wait for a later iteration
        self._started = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._next_scheduled = False

    async def turn(self) -> None:
        """Returns when this request may do its work."""
        if self._started < self.per_iteration and not self._waiting:
            self._started += 1
            self._schedule_next()
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        self._schedule_next()
        self.waited += 1
        await turn  # cancelled (the client went away): ``_next_iteration`` skips it

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _schedule_next(self) -> None:
        if not self._next_scheduled:
            self._next_scheduled = True
            asyncio.get_running_loop().call_soon(self._next_iteration)

    def _next_iteration(self) -> None:
        """Runs once per loop iteration while requests come: a fresh budget, given to the oldest waiters."""
        self._next_scheduled = False
        self._started = 0
        while self._waiting and self._started < self.per_iteration:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                self._started += 1
        if self._waiting or self._started:
            self._schedule_next()
