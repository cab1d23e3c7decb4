"""Waiting helpers shared by live and API tests: events with timeouts, never sleeps."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from mats.actors import Subscription


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
