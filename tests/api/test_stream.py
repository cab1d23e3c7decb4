"""``/api/stream`` over a real socket: browser-style auth, resume by seq, slow clients closed."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from mats.api.server import ApiServer
from mats.engine import Engine
from mats.messages import AlertRaised

from .conftest import TOKEN


def ws_url(server: ApiServer, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.port}/api/stream{query}"


async def test_browser_client_authenticates_with_its_first_message_and_resumes_by_seq(
    served: ApiServer, engine: Engine
) -> None:
    seqs = [engine.bus.publish(AlertRaised(kind="test", message=f"m{i}")).seq for i in range(5)]
    async with websockets.connect(ws_url(served), origin=f"http://127.0.0.1:{served.port}") as ws:
        await ws.send(json.dumps({"token": TOKEN, "since": seqs[1]}))
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello["type"] == "hello" and hello["resumed_from"] == seqs[1] and hello["gap"] is False
        missed = []
        while len(missed) < 3:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message["data"].get("kind") == "test":
                missed.append(message)
        assert [m["data"]["message"] for m in missed] == ["m2", "m3", "m4"]
        assert [m["seq"] for m in missed] == seqs[2:]
        engine.bus.publish(AlertRaised(kind="test", message="live"))
        while True:
            live = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if live["data"].get("message") == "live":
                break
        assert set(live) == {"seq", "type", "at", "data"} and live["type"] == "alert"


async def test_wrong_token_and_foreign_origin_are_refused(served: ApiServer) -> None:
    async with websockets.connect(ws_url(served)) as ws:
        await ws.send(json.dumps({"token": "nope"}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    with pytest.raises((websockets.InvalidStatus, ConnectionClosed)):
        async with websockets.connect(ws_url(served), origin="https://evil.example") as ws:
            await asyncio.wait_for(ws.recv(), 5)


async def test_bearer_header_authenticates_non_browser_clients(served: ApiServer, engine: Engine) -> None:
    async with websockets.connect(
        ws_url(served), additional_headers={"Authorization": f"Bearer {TOKEN}"}
    ) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello["type"] == "hello"
        engine.bus.publish(AlertRaised(kind="test", message="x"))
        event = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert event["seq"] == engine.bus.last_seq


async def test_a_client_that_never_reads_is_closed_and_the_loop_stays_responsive(
    served: ApiServer, engine: Engine
) -> None:
    # A raw socket that completes the upgrade and then never reads (a stalled browser tab); client
    # libraries keep reading in the background, which would hide the stall.
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    writer.write(
        (
            "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {TOKEN}\r\n\r\n"
        ).encode()
    )
    assert b"101 Switching Protocols" in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    async with asyncio.timeout(5):
        while engine.bus.subscriber_count != 1:  # subscribed just after the upgrade's answer
            await engine.lag.next_sample()
    payload = "x" * 2_000
    for i in range(20_000):  # far more than the socket buffers and the 1,000-event queue hold
        engine.bus.publish(AlertRaised(kind="flood", message=payload, data={"i": i}))
        if i % 500 == 0:
            await asyncio.sleep(0)  # let the sender run, as a real engine's loop would
    async with asyncio.timeout(20):
        while engine.bus.subscriber_count:
            await engine.lag.next_sample()  # wait on the loop's own heartbeat, not a sleep
    # Meanwhile the engine's loop kept its 50 ms heartbeat: the stalled client never blocked it.
    assert engine.lag.stats().p99_ms < 250
    writer.close()
