"""Token on every route but health; settings validated, persisted and redacted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mats.config import load_settings
from mats.engine import Engine


async def test_health_needs_no_token_and_reports_the_loop(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/health", headers={"Authorization": ""})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "starting"  # the engine was not run in this test
    assert body["unhandled_exceptions"] == 0 and "p99_ms" in body["loop_lag"]


@pytest.mark.parametrize("path", ["/api/settings", "/api/connection"])
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-but-long-enough", "Basic dXNlcjpwYXNz"])
async def test_every_other_route_refuses_a_missing_or_wrong_token(
    api: httpx.AsyncClient, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {"Authorization": ""}
    response = await api.get(path, headers=headers)
    assert response.status_code == 401
    assert "API token" in response.json()["detail"]


async def test_settings_are_redacted_changed_validated_and_persisted(
    api: httpx.AsyncClient, engine: Engine, settings_dir: Path
) -> None:
    before = (await api.get("/api/settings")).json()
    assert before["risk"]["max_order_qty"] == 10000 and before["ib"]["master_client_id"] == 99

    response = await api.put("/api/settings", json={"risk": {"max_order_qty": 250}, "ib": {"port": 4002}})
    assert response.status_code == 200, response.text
    assert response.json()["restart_required"] == ["ib"]
    assert engine.settings.risk.max_order_qty == 250  # in effect now
    reloaded = load_settings(None, environ={}, overrides={"data_dir": str(settings_dir / "data")})
    assert (reloaded.risk.max_order_qty, reloaded.ib.port) == (250, 4002)  # and after a restart

    bad = await api.put("/api/settings", json={"risk": {"max_order_qty": "lots"}})
    assert bad.status_code == 400 and "risk.max_order_qty" in bad.json()["detail"]
    unknown = await api.put("/api/settings", json={"ib": {"prot": 1}})
    assert unknown.status_code == 400 and "ib.prot" in unknown.json()["detail"]
    assert engine.settings.risk.max_order_qty == 250  # a refused change changes nothing


async def test_store_credentials_never_leave_the_server(api: httpx.AsyncClient, engine: Engine) -> None:
    uri = "s3://127.0.0.1:bucket?port=9000&access=AKIAXYZ&secret=very-secret"
    response = await api.put("/api/settings", json={"arctic_uri": uri})
    assert response.status_code == 200
    text = (await api.get("/api/settings")).text
    assert "very-secret" not in text and "AKIAXYZ" not in text and "secret=***" in text


async def test_openapi_schema_is_served_offline(api: httpx.AsyncClient) -> None:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/health" in paths and "/api/settings" in paths


async def test_the_built_ui_is_served_at_the_root_without_a_token(engine: Engine) -> None:
    from mats.api.app import WEB_DIST, create_app
    from mats.api.auth import ApiToken
    from mats.api.context import ApiContext

    assert (WEB_DIST / "index.html").exists(), "the UI is built by `make setup` (cd web && npm run build)"
    app = create_app(ApiContext(engine=engine, token=ApiToken("x" * 20)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        page = await client.get("/")
        assert page.status_code == 200 and '<div id="root">' in page.text
        assert (
            await client.get("/api/settings")
        ).status_code == 401  # the API behind it still needs the token
