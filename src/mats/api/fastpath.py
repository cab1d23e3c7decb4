"""An ASGI layer in front of the Litestar app. Every HTTP request first takes its turn on the loop
(``LoopShare``: trading must not queue behind every open connection). Then a GET of a hot read whose
body Litestar encoded moments ago is answered with those bytes, without routing, dependency injection,
guards or response building.

Anything else, and any request it cannot answer exactly as Litestar would (no fresh body, no bearer
header, a wrong token), goes to Litestar unchanged: Litestar still owns validation, errors, the 401 and
the OpenAPI schema, and builds every body. Measured in bench/api_load.py: Litestar's per-request work
was most of a cached read's cost, and each request's work delays the trading that shares the loop.
"""

from __future__ import annotations

from typing import Any

from mats.api.auth import ApiToken
from mats.api.encoded import EncodedReads, read_key
from mats.api.loopshare import LoopShare

#: The routes whose bodies ``EncodedReads`` holds (their handlers key them with ``read_key``).
FAST_READS = frozenset({"/api/portfolio", "/api/fills"})
_JSON = (b"content-type", b"application/json")


class FastReads:
    def __init__(
        self, app: Any, reads: EncodedReads, token: ApiToken, share: LoopShare | None = None
    ) -> None:
        self.app = app
        self.reads = reads
        self.token = token
        self.share = share
        self.served = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # WebSockets, lifespan
            return
        if self.share is not None:
            await self.share.turn()
        if scope["method"] == "GET" and scope["path"] in FAST_READS:
            authorized = self.token.matches(_bearer(scope["headers"]))
            body = self.reads.fresh(read_key(scope)) if authorized else None
            if body is not None:
                self.served += 1
                headers = [_JSON, (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip().decode("latin-1") if scheme.lower() == b"bearer" and token else None
    return None
