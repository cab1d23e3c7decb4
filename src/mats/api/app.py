"""The Litestar app: routes per area, the token guard, msgspec types, OpenAPI, the built UI at ``/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from mats import __version__
from mats.api.auth import token_guard
from mats.api.context import ApiContext
from mats.api.routes import (
    arctic,
    backtests,
    connection,
    health,
    metrics,
    portfolio,
    risk,
    settings,
    strategies,
    stream,
)

log = structlog.get_logger("mats.api")
WEB_DIST = Path(__file__).resolve().parents[3] / "web" / "dist"


def route_handlers() -> list[Any]:
    return [
        health.health,
        metrics.read_metrics,
        settings.read_settings,
        settings.change_settings,
        connection.read_connection,
        connection.connect,
        connection.disconnect,
        stream.stream,
        strategies.list_strategy_classes,
        strategies.list_strategies,
        strategies.register_strategy,
        strategies.read_strategy,
        strategies.change_strategy,
        strategies.delete_strategy,
        strategies.start_strategy,
        strategies.stop_strategy,
        portfolio.read_portfolio,
        portfolio.read_equity,
        portfolio.read_fills,
        portfolio.read_orders,
        portfolio.cancel_order,
        arctic.list_libraries,
        arctic.list_symbols,
        arctic.read_symbol,
        risk.kill_switch,
        risk.reconcile_now,
        risk.book,
        backtests.start_backtest,
        backtests.list_backtests,
        backtests.read_backtest,
    ]


def create_app(ctx: ApiContext, *, web_dist: Path | None = WEB_DIST) -> Litestar:
    handlers = route_handlers()
    if web_dist is not None and (web_dist / "index.html").exists():
        handlers.append(
            create_static_files_router(path="/", directories=[web_dist], html_mode=True, opt={"public": True})
        )

    def count_unhandled(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        ctx.unhandled_exceptions += 1
        log.error("api.unhandled_exception", path=request.url.path, exc_info=exc)
        return Response(
            {"status_code": 500, "detail": "internal error"}, status_code=HTTP_500_INTERNAL_SERVER_ERROR
        )

    def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
        if getattr(exc, "extra", None):
            body["extra"] = exc.extra
        return Response(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    app = Litestar(
        route_handlers=handlers,
        guards=[token_guard],
        dependencies={"ctx": Provide(lambda: ctx, sync_to_thread=False)},
        exception_handlers={HTTPException: http_error, Exception: count_unhandled},
        openapi_config=OpenAPIConfig(
            title="MATS API",
            version=__version__,
            path="/schema",
            render_plugins=[JsonRenderPlugin()],  # served offline: no CDN-hosted docs UI
        ),
        debug=False,
        logging_config=None,  # MATS configures logging once (mats.logging); Litestar must not replace it
    )
    app.state.token = ctx.token
    app.state.ctx = ctx
    return app
