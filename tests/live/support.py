"""Helpers shared by live and API tests: settings for a simulator, waiting on events with timeouts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from mats.actors import Subscription
from mats.config import Settings, load_settings
from mats.model import StrategySpec


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
