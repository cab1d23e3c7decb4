"""The API token: required everywhere but ``/api/health``; browsers' WebSockets authenticate too.

The token comes from ``MATS_API_TOKEN`` or is generated on first start into ``{data_dir}/api_token``
(mode 0600) and printed once. HTTP clients send ``Authorization: Bearer <token>``; a browser, which
cannot set headers on a WebSocket, sends the token in its first message (or has the ``mats_token``
cookie). WebSocket upgrades from a foreign ``Origin`` are refused: CORS does not protect WebSockets.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

TOKEN_FILE = "api_token"
COOKIE = "mats_token"
PUBLIC = "public"  # route opt: no token needed


class ApiToken:
    def __init__(self, value: str, *, generated: bool = False) -> None:
        if len(value) < 16:
            raise ValueError("the API token must be at least 16 characters")
        self._value = value
        self.generated = generated

    def matches(self, candidate: str | None) -> bool:
        return candidate is not None and secrets.compare_digest(candidate.encode(), self._value.encode())

    def reveal(self) -> str:
        """The token itself: for printing once at first start and for tests; never for logs."""
        return self._value

    def __repr__(self) -> str:
        return "ApiToken(***)"


def load_or_create_token(data_dir: str | Path, environ: Mapping[str, str] | None = None) -> ApiToken:
    env = os.environ if environ is None else environ
    if env.get("MATS_API_TOKEN"):
        return ApiToken(env["MATS_API_TOKEN"])
    path = Path(data_dir) / TOKEN_FILE
    if path.exists():
        return ApiToken(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    return ApiToken(value, generated=True)


def bearer_of(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return connection.cookies.get(COOKIE)


async def token_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Every route but those marked public; WebSocket routes authenticate in their handler.

    An ``async def`` on purpose: Litestar runs a plain-function guard in a worker thread, which cost
    every request a thread round trip (bench/api_load.py)."""
    if handler.opt.get(PUBLIC) or connection.scope["type"] == "websocket":
        return
    token: ApiToken = connection.app.state.token
    if not token.matches(bearer_of(connection)):
        raise NotAuthorizedException("missing or wrong API token: send 'Authorization: Bearer <token>'")


def origin_allowed(origin: str | None, host_header: str | None, extra: Iterable[str] = ()) -> bool:
    """Non-browser clients send no Origin; a browser's must be this server or a loopback dev server."""
    if not origin:
        return True
    parts = urlsplit(origin)
    if host_header and parts.netloc == host_header:
        return True
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return True
    return origin in set(extra)
