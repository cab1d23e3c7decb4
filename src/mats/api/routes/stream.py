"""``/api/stream``: the engine's events as ``{seq, type, at, data}``, resumable from a ``seq``.

Authentication works from a browser: the first message is ``{"token": "…", "since": 123}`` (or the
``mats_token`` cookie / a bearer header is already present). Each client has a bounded queue; a client
that falls behind (or whose socket stops draining) is closed with code 4408, so it can never stall the
engine. Every send awaits the socket, which yields to the loop. An event is encoded once for all clients,
and the clients' sends take turns on the loop with HTTP requests (``LoopShare``), a few per iteration.
"""

from __future__ import annotations

import anyio
import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from mats.actors.bus import Envelope, SubscriptionLagged
from mats.api.auth import bearer_of, origin_allowed
from mats.api.context import Ctx

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_TOO_SLOW = 4408
AUTH_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 5.0
QUEUE_SIZE = 1_000
BATCH = 64  # envelopes sent per turn on the loop

_encoder = msgspec.json.Encoder()


class Hello(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: str | None = None
    since: int | None = None


class Welcome(msgspec.Struct, frozen=True):
    """First message to an authenticated client: where the stream stands and whether it resumed cleanly."""

    type: str
    last_seq: int
    oldest_seq: int
    resumed_from: int | None
    gap: bool  # events between ``resumed_from`` and ``oldest_seq`` are gone: reload from the REST routes


@websocket("/api/stream")
async def stream(socket: WebSocket, ctx: Ctx) -> None:
    if not origin_allowed(socket.headers.get("origin"), socket.headers.get("host")):
        await socket.close(code=CLOSE_FORBIDDEN_ORIGIN, reason="origin not allowed")
        return
    await socket.accept()
    since = _int_or_none(socket.query_params.get("since"))
    authenticated = ctx.token.matches(bearer_of(socket))
    if not authenticated:
        hello = await _read_hello(socket)
        if hello is None or not ctx.token.matches(hello.token):
            await socket.close(code=CLOSE_UNAUTHORIZED, reason="missing or wrong API token")
            return
        since = hello.since if hello.since is not None else since
    bus = ctx.engine.bus
    subscription = bus.subscribe(maxsize=QUEUE_SIZE, since=since)
    try:
        gap = since is not None and since + 1 < bus.oldest_seq
        welcome = Welcome("hello", bus.last_seq, bus.oldest_seq, since, gap)
        await socket.send_text(_encoder.encode(welcome).decode())
        async with anyio.create_task_group() as group:
            group.start_soon(_watch_for_close, socket, group.cancel_scope)
            try:
                while True:
                    batch: list[Envelope] = [await subscription.get()]
                    if ctx.loop_share is not None:  # 100 clients' sends of one event: a few per iteration
                        await ctx.loop_share.turn()
                    while len(batch) < BATCH and (queued := subscription.get_nowait()) is not None:
                        batch.append(queued)  # a fill's burst of events goes out in one turn
                    for envelope in batch:
                        with anyio.fail_after(SEND_TIMEOUT_S):
                            await socket.send_text(ctx.envelopes.text(envelope))
            except (SubscriptionLagged, TimeoutError):
                await _close(socket, CLOSE_TOO_SLOW, "client too slow: reconnect with ?since=<last seq>")
            group.cancel_scope.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        subscription.close()


async def _read_hello(socket: WebSocket) -> Hello | None:
    try:
        with anyio.fail_after(AUTH_TIMEOUT_S):
            raw = await socket.receive_text()
        return msgspec.json.decode(raw, type=Hello)
    except (TimeoutError, msgspec.DecodeError, msgspec.ValidationError, WebSocketDisconnect):
        return None


async def _watch_for_close(socket: WebSocket, scope: anyio.CancelScope) -> None:
    """The client may send nothing more; a disconnect must still end the stream promptly."""
    try:
        while True:
            await socket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        scope.cancel()


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    with anyio.move_on_after(1.0):
        try:
            await socket.close(code=code, reason=reason)
        except Exception:
            pass


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
