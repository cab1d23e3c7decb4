"""Helpers shared by simulator tests: waiting on ib_async state without sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ib_async import IB

EVENT_TIMEOUT = 2.0


async def wait_until(ib: IB, predicate: Callable[[], bool], timeout: float = EVENT_TIMEOUT) -> None:
    """Wait until `predicate()` holds, re-checking each time `ib` has processed a packet."""

    async def _loop() -> None:
        while not predicate():
            await ib.updateEvent

    await asyncio.wait_for(_loop(), timeout)
