"""Typed stream events and the resuming WebSocket reader behind ``Client.stream()``.

The server closes a client that falls behind (code 4408) or goes away on restart; a notebook should not
have to care, so the reader reconnects with ``since=<last seq>`` and the bus replays what was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Collection
from datetime import UTC, datetime
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from mats.sdk.errors import MatsApiError

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
GAP = "gap"  # a synthetic event: the server no longer had everything since the last seq seen


class Event(msgspec.Struct, frozen=True):
    """One engine event: ``type`` is fill, order, position, reconciliation, strategy, connection, risk,
    alert, backtest, log (or ``gap`` when events were lost between reconnects)."""

    seq: int
    type: str
    at: datetime
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class _Wire(msgspec.Struct, frozen=True):
    """An envelope as sent; ``data`` is whatever the engine published (a struct, so an object)."""

    seq: int
    type: str
    at: datetime
    data: Any = None

    def event(self) -> Event:
        data = self.data if isinstance(self.data, dict) else {"value": self.data}
        return Event(self.seq, self.type, self.at, data)


class Welcome(msgspec.Struct, frozen=True):
    type: str
    last_seq: int
    oldest_seq: int
    resumed_from: int | None = None
    gap: bool = False


_wire = msgspec.json.Decoder(_Wire)
_welcome = msgspec.json.Decoder(Welcome)
_hello = msgspec.json.Encoder()


class EventStream:
    """An async iterator of ``Event`` that reconnects and resumes; ``aclose()`` (or ``async with``) ends it.

    ``reconnects`` counts how often it had to reconnect; ``last_seq`` is the newest seq seen.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        types: Collection[str] | None = None,
        since: int | None = None,
        retry_for: float = 30.0,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.types = frozenset(types) if types is not None else None
        self.last_seq = since
        self.reconnects = 0
        self.retry_for = retry_for
        self._token = token
        self._open_timeout = open_timeout
        self._ws: ClientConnection | None = None
        self._closed = False
        self._healthy = False  # set once a connection got its welcome: the retry clock restarts
        self._iterator = self._run()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End the stream; an ``async for`` over it in another task then ends too, without an error."""
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
        with contextlib.suppress(RuntimeError):  # being iterated in another task: it ends by itself
            await self._iterator.aclose()

    def _wanted(self, event: Event) -> bool:
        return self.types is None or event.type in self.types

    async def _run(self) -> AsyncGenerator[Event, None]:
        failing_since: float | None = None
        delay = 0.05
        loop = asyncio.get_running_loop()
        while not self._closed:
            try:
                async with contextlib.aclosing(self._connection()) as connection:
                    async for event in connection:
                        yield event
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                if code in (CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN_ORIGIN):
                    reason = exc.rcvd.reason if exc.rcvd is not None else ""
                    raise MatsApiError(code, reason or "stream refused") from None
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    raise MatsApiError(status, "stream refused: missing or wrong API token") from None
            except (OSError, InvalidHandshake, TimeoutError):
                pass  # the server is restarting or unreachable: retry below
            if self._closed:
                return
            if self._healthy:
                failing_since, delay, self._healthy = None, 0.05, False
            now = loop.time()
            failing_since = now if failing_since is None else failing_since
            if now - failing_since > self.retry_for:
                raise ConnectionError(
                    f"the event stream at {self.url} stayed unreachable for {self.retry_for}s"
                )
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _connection(self) -> AsyncGenerator[Event, None]:
        url = self.url if self.last_seq is None else f"{self.url}?since={self.last_seq}"
        headers = {"Authorization": f"Bearer {self._token}"}
        async with websockets.connect(
            url,
            additional_headers=headers,
            open_timeout=self._open_timeout,
            close_timeout=1.0,  # leaving must not wait on a server busy replaying history
            max_size=None,
        ) as ws:
            self._ws = ws
            # Also as the first message: a wrong token is then refused at once, not after the server's
            # wait for one; with a good bearer header the server reads and ignores it.
            await ws.send(_hello.encode({"token": self._token, "since": self.last_seq}).decode())
            try:
                welcome = _welcome.decode(await ws.recv())
                self._healthy = True
                if welcome.gap and self.last_seq is not None:
                    gap = Event(
                        seq=self.last_seq,
                        type=GAP,
                        at=datetime.now(UTC),
                        data={"resumed_from": welcome.resumed_from, "oldest_seq": welcome.oldest_seq},
                    )
                    if self._wanted(gap):
                        yield gap
                if self.last_seq is None:
                    self.last_seq = welcome.last_seq
                async for raw in ws:
                    event = _wire.decode(raw).event()
                    if event.seq <= self.last_seq:
                        continue  # replayed twice across a reconnect
                    self.last_seq = event.seq
                    if self._wanted(event):
                        yield event
            finally:
                self._ws = None
