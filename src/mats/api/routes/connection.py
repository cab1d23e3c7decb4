"""``GET /api/connection`` and ``POST /api/connection/{connect,disconnect}``: the IB clients."""

from __future__ import annotations

import msgspec
from litestar import get, post
from litestar.exceptions import HTTPException

from mats.api.context import Ctx


class ClientView(msgspec.Struct, frozen=True):
    client_id: int
    role: str
    state: str
    connects: int
    last_error: str
    stale_farms: list[str]


class ConnectionView(msgspec.Struct, frozen=True):
    host: str
    port: int
    account: str
    connected: bool
    clients: list[ClientView]


@get("/api/connection", sync_to_thread=False)
def read_connection(ctx: Ctx) -> ConnectionView:
    return connection_view(ctx)


def connection_view(ctx: Ctx) -> ConnectionView:
    settings = ctx.settings.ib
    hub = ctx.engine.hub
    clients = [] if hub is None else sorted(hub.clients.values(), key=lambda c: c.client_id)
    views = [
        ClientView(c.client_id, str(c.role), str(c.state), c.connects, c.last_error, sorted(c.stale_farms))
        for c in clients
    ]
    account = settings.account
    if hub is not None and hub.engine.ib is not None and hub.engine.connected:
        account = account or next(iter(hub.engine.ib.managedAccounts()), "")
    connected = hub is not None and hub.engine.connected and hub.recorder.connected
    return ConnectionView(settings.host, settings.port, account, connected, views)


@post("/api/connection/connect")
async def connect(ctx: Ctx) -> ConnectionView:
    hub = ctx.engine.hub
    if hub is None:
        raise HTTPException(status_code=409, detail="this engine has no IB connection configured")
    await hub.resume()
    return connection_view(ctx)


@post("/api/connection/disconnect")
async def disconnect(ctx: Ctx) -> ConnectionView:
    hub = ctx.engine.hub
    if hub is None:
        raise HTTPException(status_code=409, detail="this engine has no IB connection configured")
    await hub.pause()
    return connection_view(ctx)
