"""Helpers shared by live and API tests: settings for a simulator, waiting on events with timeouts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from mats.actors import Subscription
from mats.config import Settings, load_settings
from mats.model import StrategySpec
from mats.sim import SimServer
from mats.sim.clock import VirtualClock

#: Where a stopped simulator's clock stands: a Monday, in the NYSE session.
SIM_START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def sim_settings(
    port: int,
    data_dir: Path,
    strategies: Sequence[StrategySpec] = (),
    *,
    overrides: dict[str, Any] | None = None,
    **ib: Any,
) -> Settings:
    """Defaults, a data dir, and IB settings pointing at a simulator on ``port`` (2 s connect timeout);
    ``ib`` changes more IB settings, ``overrides`` any other."""
    settings = load_settings(None, environ={}, overrides={"data_dir": str(data_dir), **(overrides or {})})
    ib_settings = msgspec.structs.replace(settings.ib, **{"port": port, "connect_timeout": 2.0, **ib})
    return msgspec.structs.replace(settings, ib=ib_settings, strategies=list(strategies))


def stopped_sim(**config: Any) -> SimServer:
    """The simulator on a stopped clock at ``SIM_START``: a strategy sees only the bars a test gives it.

    On a running clock, a wall-clock minute boundary crossed mid-test delivered a real bar too, and a
    strategy that trades on every bar traded twice. No random walk, no day-end expiry, account pushes
    within 10 ms; ``config`` changes any of it (``price_interval``, ``account``, ...)."""
    defaults: dict[str, Any] = {"price_interval": 0, "account_push_interval": 0.01, "day_end": ""}
    clock = VirtualClock(start=SIM_START, running=False)
    return SimServer(port=free_port(), clock=clock, **defaults | config)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for_event(sub: Subscription, match: Callable[[Any], bool], timeout: float = 10) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            envelope = await sub.get()
            if match(envelope.data):
                return envelope.data
