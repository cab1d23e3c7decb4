"""Fault scenarios run against a simulator on a paused virtual clock (fault durations end on ``advance``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from live.support import free_port
from mats.sim import SimServer

from .desk import paused_sim


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with paused_sim(free_port()) as server:
        yield server
