"""Live-path fixtures: the simulator on loopback, a real journal in a temp dir, the engine's IB clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mats.actors import EventBus
from mats.config import IBSettings
from mats.ib import Backoff, IBHub
from mats.sim import SimServer
from mats.store.journal import Journal

from .support import free_port, stopped_sim, wait_for_event

__all__ = ["FAST", "free_port", "wait_for_event"]

FAST = Backoff(initial=0.05, maximum=0.3, client_id_in_use=0.1)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with stopped_sim() as server:
        yield server


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    async with Journal(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
async def hub(sim: SimServer, bus: EventBus) -> AsyncIterator[IBHub]:
    hub = IBHub(IBSettings(port=sim.port, connect_timeout=2.0), bus=bus, backoff=FAST)
    yield hub
    await hub.stop()
