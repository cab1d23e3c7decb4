"""The API served by an embedded uvicorn on the engine's own loop; the engine owns shutdown.

uvicorn's ``serve()`` installs its own SIGINT/SIGTERM handlers and re-raises the signal on exit; here
that capture is a no-op, so one Ctrl-C stops the engine once, in order, and the server with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import uvicorn

from mats.api.app import WEB_DIST, create_app
from mats.api.auth import ApiToken
from mats.api.context import ApiContext
from mats.api.fastpath import FastReads
from mats.api.loopshare import PER_ITERATION, LoopShare

if TYPE_CHECKING:
    from mats.engine import Engine

log = structlog.get_logger("mats.api")


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ApiServer:
    """Engine component: starts after the engine's other parts, stops before them."""

    name = "api"

    def __init__(
        self,
        token: ApiToken,
        *,
        host: str | None = None,
        port: int | None = None,
        web_dist: Path | None = WEB_DIST,
        requests_per_iteration: int | None = PER_ITERATION,
    ) -> None:
        """``requests_per_iteration``: HTTP requests started per loop iteration (None: no limit)."""
        self.token = token
        self.requests_per_iteration = requests_per_iteration
        self.host = host
        self.port = port
        self.web_dist = web_dist
        self.ctx: ApiContext | None = None
        self.fast_reads: FastReads | None = None
        self._server: EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, engine: Engine) -> None:
        self.ctx = ApiContext(engine=engine, token=self.token)
        litestar = create_app(self.ctx, web_dist=self.web_dist)
        share = LoopShare(self.requests_per_iteration) if self.requests_per_iteration else None
        self.ctx.loop_share = share
        self.fast_reads = FastReads(litestar, self.ctx.reads, self.token, share)
        host = self.host or engine.settings.web.host
        port = engine.settings.web.port if self.port is None else self.port
        config = uvicorn.Config(
            self.fast_reads,
            host=host,
            port=port,
            http="httptools",
            lifespan="on",
            log_config=None,
            # uvicorn logs a request whenever its access logger has a handler, and the root logger
            # has MATS's: a formatted log line per request was a third of a request's cost.
            access_log=False,
            ws_ping_interval=20,
        )
        self._server = EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(), name="api-server")
        while not self._server.started:
            if self._task.done():
                await self._task  # surfaces why it could not start (port in use, …)
                raise RuntimeError("the API server stopped during start-up")
            await asyncio.sleep(0.01)
        self.port = self.bound_port
        log.info("api.listening", url=self.url)

    async def stop(self) -> None:
        jobs = self.ctx.extras.get("backtests") if self.ctx is not None else None
        if jobs is not None:
            await jobs.close()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=10)

    @property
    def bound_port(self) -> int:
        assert self._server is not None
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("the API server has no listening socket")

    @property
    def url(self) -> str:
        host = self.host or "127.0.0.1"
        return f"http://{host}:{self.port}"
