"""Fixtures for simulator tests: a fresh simulator on an ephemeral port and real ib_async clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from ib_async import IB

from mats.sim import SimServer

CONNECT_TIMEOUT = 2.0

Connect = Callable[..., Awaitable[IB]]


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """Frozen prices (no random walk) so every expected value is exact; fast account pushes; DAY orders
    never expire by themselves (the clock is the wall's, and a run may straddle 16:00 New York)."""
    async with SimServer(port=0, price_interval=0, account_push_interval=0.01, day_end="") as server:
        yield server


@pytest.fixture
async def connect(sim: SimServer) -> AsyncIterator[Connect]:
    """`await connect(client_id)` → a connected ib_async IB; all are disconnected afterwards."""
    clients: list[IB] = []

    async def _connect(client_id: int, max_version: int | None = None, **options: Any) -> IB:
        ib = IB()
        if max_version is not None:
            ib.client.MaxClientVersion = max_version
        clients.append(ib)
        await ib.connectAsync("127.0.0.1", sim.port, clientId=client_id, timeout=CONNECT_TIMEOUT, **options)
        return ib

    yield _connect
    for ib in clients:
        ib.disconnect()
