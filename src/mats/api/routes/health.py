"""``GET /api/health``: the one route without a token, for load balancers and the login screen."""

from __future__ import annotations

import time

import msgspec
from litestar import get

from mats import __version__
from mats.api.auth import PUBLIC
from mats.api.context import Ctx
from mats.looplag import LagStats


class Health(msgspec.Struct, frozen=True):
    status: str
    version: str
    uptime_s: float
    loop_lag: LagStats
    unhandled_exceptions: int
    event_seq: int
    stream_clients: int


@get("/api/health", opt={PUBLIC: True}, sync_to_thread=False)
def health(ctx: Ctx) -> Health:
    engine = ctx.engine
    return Health(
        status="ok" if engine.ready.is_set() else "starting",
        version=__version__,
        uptime_s=round(time.monotonic() - ctx.started_at, 3),
        loop_lag=engine.lag.stats(),
        unhandled_exceptions=ctx.unhandled_exceptions,
        event_seq=engine.bus.last_seq,
        stream_clients=engine.bus.subscriber_count,
    )
