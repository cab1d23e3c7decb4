"""Strategy, portfolio, fill and order routes against a running engine trading with the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from live.support import free_port, wait_for_event
from mats.api.app import create_app
from mats.api.auth import ApiToken
from mats.api.context import ApiContext
from mats.engine import Engine
from mats.messages import CommissionCharged
from mats.model import Bar
from mats.sim import SimServer

from .conftest import TOKEN, trading_engine


@pytest.fixture
async def trading_api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Engine, SimServer]]:
    async with SimServer(port=free_port(), price_interval=0, account_push_interval=0.01) as sim:
        engine = trading_engine(sim, tmp_path)
        running = asyncio.create_task(engine.run(handle_signals=False))
        await asyncio.wait_for(engine.ready.wait(), 20)
        app = create_app(ApiContext(engine=engine, token=ApiToken(TOKEN)), web_dist=None)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as client:
            try:
                yield client, engine, sim
            finally:
                engine.request_shutdown("test over")
                await asyncio.wait_for(running, 20)


REGISTRATION = {
    "strategy_id": "pulse_aapl",
    "cls": "strategies.pulse:Pulse",
    "symbols": ["AAPL"],
    "params": {"qty": 7, "every": 1},
    "target_weight": 0.1,
    "equity": None,
    "bar_size": "1min",
}


async def test_register_start_trade_and_read_back_what_the_simulator_executed(
    trading_api: tuple[httpx.AsyncClient, Engine, SimServer],
) -> None:
    api, engine, sim = trading_api
    charges = engine.bus.subscribe(types={"fill"})
    created = await api.post("/api/strategies", json=REGISTRATION)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "registered"
    started = await api.post("/api/strategies/pulse_aapl/start")
    assert started.status_code == 201 and started.json()["status"] == "running"
    assert started.json()["client_id"] == 1

    sim.control.set_price("AAPL", 187.25)
    assert engine.trading is not None
    actor = engine.trading.actors["pulse_aapl"]
    await actor.tell(Bar("AAPL", datetime.now(UTC), 187.25, 187.25, 187.25, 187.25))
    await wait_for_event(charges, lambda e: isinstance(e, CommissionCharged))

    [execution] = sim.control.executions()
    [fill] = (await api.get("/api/fills")).json()
    assert (fill["strategy_id"], fill["qty"], fill["price"], fill["side"]) == ("pulse_aapl", 7, 187.25, "BUY")
    assert fill["commission"] == pytest.approx(execution.commission.commission)
    assert fill["exec_id"] == execution.execution.exec_id

    portfolio = (await api.get("/api/portfolio")).json()
    assert portfolio["account"] == "DU0000001" and portfolio["base_currency"] == "USD"
    [position] = portfolio["positions"]
    assert (position["strategy_id"], position["qty"], position["avg_cost"]) == ("pulse_aapl", 7, 187.25)
    assert portfolio["total_equity"] > 0

    assert engine.trading.equity is not None
    engine.trading.equity.sample()
    curve = (await api.get("/api/portfolio/equity")).json()
    assert curve["base_currency"] == "USD" and curve["points"][-1]["equity"] == portfolio["total_equity"]
    strategy_curve = (await api.get("/api/portfolio/equity", params={"strategy_id": "pulse_aapl"})).json()
    commission = execution.commission.commission
    assert strategy_curve["points"][-1]["equity"] == pytest.approx(-commission)  # bought at the market price

    [order] = (await api.get("/api/orders")).json()
    assert (
        order["state"] == "Filled"
        and order["filled"] == 7
        and order["order_ref"].startswith("mats:pulse_aapl:")
    )
    stopped = await api.post("/api/strategies/pulse_aapl/stop")
    assert stopped.json()["status"] == "stopped"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**REGISTRATION, "cls": "os:system"}, "cls"),
        ({**REGISTRATION, "cls": "strategies.pulse:NoSuchClass"}, "cls"),
        ({**REGISTRATION, "target_weight": "lots"}, "target_weight"),
        ({**REGISTRATION, "colour": "red"}, "colour"),
        ({k: v for k, v in REGISTRATION.items() if k != "cls"}, "cls"),
        ({**REGISTRATION, "strategy_id": "has spaces"}, "strategy_id"),
        ({**REGISTRATION, "bar_size": "7s"}, "bar_size"),
    ],
)
async def test_bad_registrations_are_refused_naming_the_field(
    trading_api: tuple[httpx.AsyncClient, Engine, SimServer], body: dict[str, object], field: str
) -> None:
    api, _, _ = trading_api
    response = await api.post("/api/strategies", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert (await api.get("/api/strategies")).json() == []  # nothing half-registered


async def test_unknown_ids_are_404_and_the_token_is_required(
    trading_api: tuple[httpx.AsyncClient, Engine, SimServer],
) -> None:
    api, _, _ = trading_api
    for method, path in [
        ("GET", "/api/strategies/nope"),
        ("PATCH", "/api/strategies/nope"),
        ("DELETE", "/api/strategies/nope"),
        ("POST", "/api/strategies/nope/start"),
        ("POST", "/api/orders/mats:nope:1/cancel"),
    ]:
        response = await api.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path, response.text)
        anonymous = await api.request(method, path, headers={"Authorization": ""})
        assert anonymous.status_code == 401


async def test_patch_changes_params_with_validation(
    trading_api: tuple[httpx.AsyncClient, Engine, SimServer],
) -> None:
    api, _, _ = trading_api
    await api.post("/api/strategies", json=REGISTRATION)
    changed = await api.patch(
        "/api/strategies/pulse_aapl", json={"params": {"qty": 3, "every": 2}, "target_weight": 0.2}
    )
    assert changed.status_code == 200 and changed.json()["params"] == {"qty": 3, "every": 2}
    assert changed.json()["target_weight"] == 0.2
    bad = await api.patch("/api/strategies/pulse_aapl", json={"target_weight": 3})
    assert bad.status_code == 400 and "target_weight" in bad.json()["detail"]
    limited = await api.patch(
        "/api/strategies/pulse_aapl", json={"risk": {"max_position": 50, "allowed_symbols": ["AAPL"]}}
    )
    assert limited.status_code == 200 and limited.json()["risk"]["max_position"] == 50
    assert limited.json()["params"] == {"qty": 3, "every": 2}  # the rest as it was
    typo = await api.patch("/api/strategies/pulse_aapl", json={"risk": {"max_positon": 50}})
    assert typo.status_code == 400 and typo.json()["detail"] == "risk.max_positon: unknown field"
    deleted = await api.delete("/api/strategies/pulse_aapl")
    assert deleted.status_code == 204
    assert (await api.get("/api/strategies/pulse_aapl")).status_code == 404


async def test_reconcile_on_demand_and_the_kill_switch_through_the_api(
    trading_api: tuple[httpx.AsyncClient, Engine, SimServer],
) -> None:
    api, engine, sim = trading_api
    sim.control.set_price("AAPL", 120.0)
    sim.control.place_manual_order("AAPL", "BUY", 3)
    fills = engine.bus.subscribe(types={"fill"})
    await wait_for_event(fills, lambda e: isinstance(e, CommissionCharged))
    reconciled = await api.post("/api/portfolio/reconcile")
    assert reconciled.status_code == 201
    [row] = reconciled.json()["reconciliation"]
    assert (row["symbol"], row["ib_qty"], row["discretionary_qty"], row["break_qty"], row["locked"]) == (
        "AAPL", 3, 3, 0, False,
    )  # fmt: skip
    assert (await api.get("/api/portfolio")).json()["reconciliation"] == [row]

    assert (await api.post("/api/risk/kill-switch", json={"strategy_id": "nope"})).status_code == 404
    bad = await api.post("/api/risk/kill-switch", json={"engaged": "very"})
    assert bad.status_code == 400 and "engaged" in bad.text
    engaged = await api.post("/api/risk/kill-switch", json={"engaged": True, "reason": "drill"})
    assert engaged.status_code == 201 and engaged.json()["engaged"] is True
    assert engine.trading is not None and engine.trading.risk is not None and engine.trading.risk.killed
    released = await api.post("/api/risk/kill-switch", json={"engaged": False})
    assert released.json()["engaged"] is False and not engine.trading.risk.killed
