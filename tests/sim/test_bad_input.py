"""Hostile or broken peers: each gets an answer or a clean close, and nobody else notices."""

from __future__ import annotations

import asyncio
import struct

from ib_async import IB, MarketOrder, Stock

from mats.sim import SimServer
from mats.sim.codec import FrameReader, encode, frame

from .conftest import Connect
from .helpers import EVENT_TIMEOUT, wait_until


class RawClient:
    """A bare socket speaking (or failing to speak) the TWS API."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames = FrameReader()
        self.inbox: list[list[str]] = []

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def start(self, client_id: int) -> None:
        self.writer.write(b"API\0" + frame(b"v157..178"))
        (version, _time) = await self.next_message()
        assert version == "178"
        self.send(["71", "2", str(client_id), ""])
        await self.wait_for(lambda m: m[0] == "4" and m[3] == "2158")  # the last connect notice

    def send(self, fields: list[str]) -> None:
        self.writer.write(encode(fields))

    async def next_message(self) -> list[str]:
        async def _read() -> list[str]:
            while not self.inbox:
                data = await self.reader.read(65536)
                assert data, "the simulator closed the connection"
                self.inbox += self.frames.feed(data)
            return self.inbox.pop(0)

        return await asyncio.wait_for(_read(), EVENT_TIMEOUT)

    async def wait_for(self, predicate: object) -> list[str]:
        while True:
            message = await self.next_message()
            if callable(predicate) and predicate(message):
                return message

    async def closed_by_server(self) -> bool:
        async def _drain() -> None:
            while await self.reader.read(65536):
                pass

        await asyncio.wait_for(_drain(), EVENT_TIMEOUT)
        return True

    def close(self) -> None:
        self.writer.close()


async def assert_still_trading(sim: SimServer, ib: IB) -> None:
    """A healthy client keeps getting fills after the bad peer did its worst."""
    fills_before = len(sim.control.executions())
    trade = ib.placeOrder(Stock("AAPL", "SMART", "USD", conId=265598), MarketOrder("BUY", 1))
    await wait_until(ib, lambda: trade.orderStatus.status == "Filled")
    assert len(sim.control.executions()) == fills_before + 1


async def test_garbage_instead_of_a_handshake_is_closed(sim: SimServer, connect: Connect) -> None:
    healthy = await connect(1)
    raw = await RawClient.open(sim.port)
    raw.writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert await raw.closed_by_server()
    raw.close()
    await assert_still_trading(sim, healthy)


async def test_oversized_length_prefix_closes_only_that_session(sim: SimServer, connect: Connect) -> None:
    healthy = await connect(1)
    raw = await RawClient.open(sim.port)
    await raw.start(client_id=2)
    raw.writer.write(struct.pack(">I", 0x7FFFFFFF) + b"\0" * 16)
    assert await raw.closed_by_server()
    raw.close()
    await asyncio.wait_for(sim.control.wait_disconnected(2), EVENT_TIMEOUT)
    await assert_still_trading(sim, healthy)


async def test_truncated_message_then_hang_up_releases_the_client_id(
    sim: SimServer, connect: Connect
) -> None:
    healthy = await connect(1)
    raw = await RawClient.open(sim.port)
    await raw.start(client_id=3)
    raw.writer.write(struct.pack(">I", 100) + b"3\0" + b"1\0" * 4)
    await raw.writer.drain()
    raw.writer.close()
    await asyncio.wait_for(sim.control.wait_disconnected(3), EVENT_TIMEOUT)
    again = await RawClient.open(sim.port)
    await again.start(client_id=3)  # the id is free again
    again.close()
    await assert_still_trading(sim, healthy)


async def test_unknown_and_malformed_messages_are_answered_and_the_session_goes_on(
    sim: SimServer, connect: Connect
) -> None:
    healthy = await connect(1)
    raw = await RawClient.open(sim.port)
    await raw.start(client_id=4)

    raw.send(["999", "1", "17"])
    unknown = await raw.wait_for(lambda m: m[0] == "4")
    raw.send(["3", "12"])  # a placeOrder with its fields cut off
    malformed = await raw.wait_for(lambda m: m[0] == "4")
    raw.send(["abc"])
    not_a_number = await raw.wait_for(lambda m: m[0] == "4")
    raw.send(["49", "1"])
    current_time = await raw.wait_for(lambda m: m[0] == "49")

    assert unknown[2:4] == ["-1", "321"] and "999" in unknown[4]
    assert malformed[2:4] == ["12", "320"]  # addressed to the order, so a client can fail it
    assert not_a_number[2:4] == ["-1", "320"]
    assert int(current_time[2]) > 1_700_000_000
    assert sim.control.orders() == []
    raw.close()
    await assert_still_trading(sim, healthy)


async def test_requests_before_start_api_are_refused_politely(sim: SimServer) -> None:
    raw = await RawClient.open(sim.port)
    raw.writer.write(b"API\0" + frame(b"v157..178 +PACEAPI"))
    await raw.next_message()
    raw.send(["61", "1"])
    (refusal) = await raw.wait_for(lambda m: m[0] == "4")
    assert refusal[3] == "321"
    raw.close()


async def test_a_client_whose_versions_are_too_old_is_closed(sim: SimServer) -> None:
    raw = await RawClient.open(sim.port)
    raw.writer.write(b"API\0" + frame(b"v100..151"))
    assert await raw.closed_by_server()
    raw.close()
