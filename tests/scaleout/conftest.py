"""Engines for the scale-out suite: the production wiring (store, IB hub, live trading, API on 127.0.0.1:0)
pointed at any ``arctic_uri`` and namespace, against its own simulator. The store is a moto S3 server
(``s3_uri`` from the ``moto_s3`` plugin, a fresh bucket per test); nothing is mocked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from live.conftest import FAST
from live.support import sim_settings, stopped_sim
from mats.api.auth import ApiToken
from mats.api.server import ApiServer
from mats.engine import Engine
from mats.launch import live_engine
from mats.model import StrategySpec
from mats.sim import SimServer
from mats.storage import StoreComponent
from mats.store import ArcticStore
from mats.store.lease import DEFAULT_TTL
from mats.trading import LiveTrading

TOKEN = "scaleout-token-0123456789abcdef"


@dataclass
class RunningEngine:
    engine: Engine
    api: ApiServer
    task: asyncio.Task[None]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api.port}"

    @property
    def trading(self) -> LiveTrading:
        assert self.engine.trading is not None
        return self.engine.trading

    @property
    def store(self) -> ArcticStore:
        assert self.engine.store is not None
        return self.engine.store

    async def stop(self) -> None:
        self.engine.request_shutdown("test over")
        await asyncio.wait_for(self.task, 30)


async def start_engine(
    sim: SimServer,
    data_dir: Path,
    arctic_uri: str,
    *,
    namespace: str = "",
    specs: Sequence[StrategySpec] = (),
    lease_ttl: float = DEFAULT_TTL,
) -> RunningEngine:
    """One engine for ``sim``'s account, as ``mats serve`` wires it; raises what its start-up raised."""
    overrides = {"arctic_uri": arctic_uri, "storage": {"namespace": namespace}}
    settings = sim_settings(sim.port, data_dir, specs, overrides=overrides, account=sim.config.account)
    api = ApiServer(ApiToken(TOKEN), host="127.0.0.1", port=0, web_dist=None)
    store = StoreComponent(settings.resolved_arctic_uri, settings.storage.namespace, lease_ttl=lease_ttl)
    engine, _ = live_engine(settings, store=store, backoff=FAST, after=[api])
    task = asyncio.create_task(engine.run(handle_signals=False))
    ready = asyncio.create_task(engine.ready.wait())
    await asyncio.wait([task, ready], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        if task.done():
            raise _why(task)  # start-up failed
        engine.request_shutdown("start-up timed out")
        raise TimeoutError("the engine did not get ready within 30 s")
    return RunningEngine(engine, api, task)


def _why(failed: asyncio.Task[None]) -> BaseException:
    """The one exception under the engine's task groups (they wrap what a component's start raised)."""
    exc = failed.exception()
    assert exc is not None, "the engine stopped during start-up without an error"
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def account_sim(account: str) -> SimServer:
    """A simulator for one account whose clock stands still: no real-time bar reaches a strategy unless a
    test sends it (a minute boundary crossed mid-test would otherwise make a pulse trade once more)."""
    return stopped_sim(account=account)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with account_sim("DU0000001") as server:
        yield server
