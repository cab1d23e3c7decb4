"""API fixtures: the real Litestar app on the test's loop (httpx ASGI transport inside its lifespan) and,
for WebSockets, a running engine with its embedded uvicorn on an ephemeral port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from live.support import sim_settings
from mats.api.app import create_app
from mats.api.auth import ApiToken
from mats.api.context import ApiContext
from mats.api.server import ApiServer
from mats.config import load_settings
from mats.engine import Component, Engine
from mats.ib import Backoff
from mats.launch import live_engine
from mats.sim import SimServer

TOKEN = "test-token-0123456789abcdef"


def trading_engine(sim: SimServer, data_dir: Path, *components: Component) -> Engine:
    """An engine that trades against ``sim`` (IB clients + LiveTrading), plus ``components`` after them."""
    settings = sim_settings(sim.port, data_dir)
    engine, _ = live_engine(settings, backoff=Backoff(initial=0.05, maximum=0.2), after=components)
    return engine


@pytest.fixture
def settings_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def engine(settings_dir: Path) -> Engine:
    settings = load_settings(None, environ={}, overrides={"data_dir": str(settings_dir / "data")})
    return Engine(settings)


@pytest.fixture
async def api(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client for the app, run on this loop (not Litestar's other-loop test client)."""
    ctx = ApiContext(engine=engine, token=ApiToken(TOKEN))
    app = create_app(ctx, web_dist=None)
    # The app has no start-up hooks; entering its lifespan here would open an anyio scope in the
    # fixture's set-up task and close it in its tear-down task, which anyio refuses.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        client.ctx = ctx  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def served(engine: Engine) -> AsyncIterator[ApiServer]:
    """The engine running with the API on 127.0.0.1:0."""
    server = ApiServer(ApiToken(TOKEN), host="127.0.0.1", port=0, web_dist=None)
    engine.components.append(server)
    running = asyncio.create_task(engine.run(handle_signals=False))
    await asyncio.wait_for(engine.ready.wait(), timeout=20)
    try:
        yield server
    finally:
        engine.request_shutdown("test over")
        await asyncio.wait_for(running, timeout=20)
