"""The engine with its ArcticDB store: fills flushed to ``{account}/fills``, read back through the API;
the strategy registry survives a restart in ``general/strategies``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import pytest

from live.support import free_port, wait_for_event
from mats.api.app import create_app
from mats.api.auth import ApiToken
from mats.api.context import ApiContext
from mats.config import Settings, load_settings
from mats.engine import Engine
from mats.ib import Backoff
from mats.launch import live_engine
from mats.messages import CommissionCharged
from mats.model import Bar
from mats.sim import SimServer
from mats.sim.clock import VirtualClock
from mats.storage import StoreComponent

from .conftest import TOKEN


def settings_for(sim: SimServer, data_dir: Path) -> Settings:
    settings = load_settings(None, environ={}, overrides={"data_dir": str(data_dir)})
    return msgspec.structs.replace(
        settings, ib=msgspec.structs.replace(settings.ib, port=sim.port, connect_timeout=2.0)
    )


async def start(settings: Settings) -> tuple[Engine, asyncio.Task[None], httpx.AsyncClient]:
    store = StoreComponent(settings.resolved_arctic_uri, settings.storage.namespace)
    engine, _ = live_engine(settings, store=store, backoff=Backoff(initial=0.05, maximum=0.2))
    task = asyncio.create_task(engine.run(handle_signals=False))
    await asyncio.wait_for(engine.ready.wait(), 30)
    app = create_app(ApiContext(engine=engine, token=ApiToken(TOKEN)), web_dist=None)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    return engine, task, client


async def stop(engine: Engine, task: asyncio.Task[None], client: httpx.AsyncClient) -> None:
    await client.aclose()
    engine.request_shutdown("test over")
    await asyncio.wait_for(task, 30)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    # A stopped clock: no real-time bar of the simulator's own may trigger a second trade mid-test.
    clock = VirtualClock(start=datetime.now(UTC), running=False)
    async with SimServer(
        port=free_port(), clock=clock, price_interval=0, account_push_interval=0.01, day_end=""
    ) as server:
        yield server


async def test_fills_reach_arcticdb_and_the_registry_survives_a_restart(
    sim: SimServer, tmp_path: Path
) -> None:
    settings = settings_for(sim, tmp_path)
    engine, task, api = await start(settings)
    try:
        charges = engine.bus.subscribe(types={"fill"})
        body = {
            "strategy_id": "keeper",
            "cls": "strategies.pulse:Pulse",
            "symbols": ["AAPL"],
            "params": {"qty": 3, "every": 1},
        }
        assert (await api.post("/api/strategies", json=body)).status_code == 201
        assert (await api.post("/api/strategies/keeper/start")).status_code == 201
        sim.control.set_price("AAPL", 212.5)
        assert engine.trading is not None
        await engine.trading.actors["keeper"].tell(Bar("AAPL", datetime.now(UTC), 212.5, 212.5, 212.5, 212.5))
        await wait_for_event(charges, lambda e: isinstance(e, CommissionCharged))
        assert engine.trading.flusher is not None
        await engine.trading.flusher.wait_flushed(timeout=20)

        libraries = (await api.get("/api/arctic/libraries")).json()
        assert "DU0000001" in libraries and "general" in libraries
        assert "fills" in (await api.get("/api/arctic/libraries/DU0000001/symbols")).json()
        preview = (await api.get("/api/arctic/libraries/DU0000001/symbols/fills")).json()
        [execution] = sim.control.executions()
        rows = {r["kind"]: r for r in preview["rows"]}
        assert rows["fill"]["exec_id"] == execution.execution.exec_id
        assert (rows["fill"]["qty"], rows["fill"]["price"], rows["fill"]["strategy_id"]) == (
            3,
            212.5,
            "keeper",
        )
        assert rows["commission"]["commission"] == pytest.approx(execution.commission.commission)
        assert preview["metadata"]["last_seq"] >= 2
        assert await engine.trading.snapshot() == 2  # one portfolio row, one strategy_keeper row
        book = (await api.get("/api/arctic/libraries/DU0000001/symbols/portfolio")).json()["rows"][-1]
        assert (book["strategy_id"], book["qty"], book["avg_cost"], book["currency"]) == (
            "keeper",
            3,
            212.5,
            "USD",
        )
        assert book["value_base"] == pytest.approx(book["market_value"])
        own = (await api.get("/api/arctic/libraries/DU0000001/symbols/strategy_keeper")).json()["rows"][-1]
        assert (own["symbol"], own["qty"], own["avg_cost"]) == ("AAPL", 3, 212.5)
        missing = await api.get("/api/arctic/libraries/DU0000001/symbols/nope")
        assert missing.status_code == 404
    finally:
        await stop(engine, task, api)

    engine, task, api = await start(settings)  # a new process on the same data dir
    try:
        [restored] = (await api.get("/api/strategies")).json()
        assert (restored["strategy_id"], restored["params"], restored["client_id"]) == (
            "keeper",
            {"qty": 3, "every": 1},
            1,
        )
        assert restored["status"] == "registered"  # back on its old clientId when started again
    finally:
        await stop(engine, task, api)


async def test_a_backtest_runs_in_a_worker_process_reports_progress_and_is_stored(
    sim: SimServer, tmp_path: Path
) -> None:
    from mats.backtest import run
    from mats.backtest.data import synth_bars

    engine, task, api = await start(settings_for(sim, tmp_path))
    try:
        events = engine.bus.subscribe(types={"backtest"})
        body = {
            "cls": "strategies.sma_cross:SmaCross",
            "symbols": ["AAPL"],
            "params": {"fast": 5, "slow": 20, "qty": 10},
            "synthetic_bars": 3000,
            "seed": 7,
        }
        refused = await api.post("/api/backtests", json={**body, "cls": "os:system"})
        assert refused.status_code == 400 and "cls" in refused.json()["detail"]
        bad = await api.post("/api/backtests", json={**body, "cash": "lots"})
        assert bad.status_code == 400 and "cash" in bad.json()["detail"]
        started = await api.post("/api/backtests", json=body)
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        seen = []
        async with asyncio.timeout(120):
            while not seen or seen[-1].status not in ("done", "failed"):
                envelope = await events.get()
                if envelope.data.run_id == run_id:
                    seen.append(envelope.data)
        assert seen[-1].status == "done", seen[-1].error
        assert [e.status for e in seen][:2] == ["queued", "running"]

        listed = {r["run_id"]: r for r in (await api.get("/api/backtests")).json()}
        detail = (await api.get(f"/api/backtests/{run_id}")).json()
        assert (await api.get("/api/backtests/nope")).status_code == 404
    finally:
        await stop(engine, task, api)

    expected = run(
        "strategies.sma_cross:SmaCross", synth_bars(3000, seed=7), params=body["params"], symbol="AAPL"
    )
    assert listed[run_id]["stats"]["trades"] == expected.stats["trades"] > 0
    assert detail["stats"]["final_equity"] == pytest.approx(expected.stats["final_equity"])
    assert len(detail["fills"]) == len(expected.fills)
    assert detail["equity"][-1]["equity"] == pytest.approx(expected.stats["final_equity"])
