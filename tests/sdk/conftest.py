"""A real engine for the SDK: the simulator, the IB hub, live trading, the ArcticDB store and the API on
an embedded uvicorn at 127.0.0.1:0, wired as ``mats.launch.build_engine`` does; nothing is mocked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from live.support import free_port, sim_settings
from mats.api.auth import ApiToken
from mats.api.server import ApiServer
from mats.engine import Engine
from mats.ib import Backoff
from mats.launch import live_engine
from mats.sim import SimServer
from mats.storage import StoreComponent
from mats.trading import LiveTrading

TOKEN = "sdk-test-token-0123456789abcdef"


@dataclass
class Running:
    sim: SimServer
    engine: Engine
    api: ApiServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api.port}"

    @property
    def trading(self) -> LiveTrading:
        assert self.engine.trading is not None
        return self.engine.trading


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async with SimServer(port=free_port(), price_interval=0, account_push_interval=0.01) as sim:
        settings = sim_settings(sim.port, tmp_path / "data")
        api = ApiServer(ApiToken(TOKEN), host="127.0.0.1", port=0, web_dist=None)
        store = StoreComponent(settings.resolved_arctic_uri, settings.storage.namespace)
        engine, _ = live_engine(
            settings, store=store, backoff=Backoff(initial=0.05, maximum=0.2), after=[api]
        )
        task = asyncio.create_task(engine.run(handle_signals=False))
        await asyncio.wait_for(engine.ready.wait(), 30)
        try:
            yield Running(sim, engine, api)
        finally:
            engine.request_shutdown("test over")
            await asyncio.wait_for(task, 30)
