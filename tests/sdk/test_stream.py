"""``stream()`` resumes from the last seq after the server drops it (too slow: 4408) or the socket closes,
and says so with a ``gap`` event when the server's history no longer reaches back far enough."""

from __future__ import annotations

import asyncio

import mats.sdk
from mats.messages import AlertRaised
from mats.sdk import GAP, Event, EventStream

from .conftest import TOKEN, Running


async def take(events: EventStream, n: int, kind: str | None = None, timeout: float = 15) -> list[Event]:
    """The next ``n`` events (of alerts, those of ``kind``: the engine may raise its own meanwhile)."""
    got: list[Event] = []
    async with asyncio.timeout(timeout):
        async for event in events:
            if kind is None or event.data.get("kind") == kind:
                got.append(event)
            if len(got) == n:
                return got
    raise AssertionError("the stream ended")


async def test_a_client_closed_for_being_slow_resumes_without_losing_an_event(running: Running) -> None:
    bus = running.engine.bus
    async with mats.sdk.connect(running.url, TOKEN) as m:
        # From the current seq: the first event is replayed even if it is published before the socket is up.
        events = m.stream(types={"alert"}, since=bus.last_seq)
        bus.publish(AlertRaised(kind="test", message="first"))
        await take(events, 1, "test")
        start = events.last_seq
        assert start is not None
        # 3,000 at once: more than the server's 1,000-event queue for this client, so it is closed (4408).
        for i in range(3_000):
            bus.publish(AlertRaised(kind="flood", message="x", data={"i": i}))
        flood = await take(events, 3_000, "flood")
        assert [e.data["data"]["i"] for e in flood] == list(range(3_000))
        assert [e.seq for e in flood] == list(range(start + 1, start + 3_001))
        assert events.reconnects >= 1

        # A socket closed under the stream (a laptop's Wi-Fi drop) is resumed too.
        assert events._ws is not None
        await events._ws.close()
        bus.publish(AlertRaised(kind="test", message="after"))
        [after] = await take(events, 1, "test")
        assert after.data["message"] == "after" and after.seq > start + 3_000
        assert events.reconnects >= 2
        await events.aclose()


async def test_resuming_past_the_servers_history_yields_a_gap_first(running: Running) -> None:
    bus = running.engine.bus
    since = bus.last_seq
    for i in range(10_050):  # the bus keeps the last 10,000
        bus.publish(AlertRaised(kind="old", message="x", data={"i": i}))
    async with mats.sdk.connect(running.url, TOKEN) as m:
        async with m.stream(since=since) as events:
            gap, oldest = await take(events, 2)
        assert gap.type == GAP and gap.seq == since and gap.data["oldest_seq"] == oldest.seq
        assert oldest.seq > since + 1


async def test_types_filter_and_since_replay(running: Running) -> None:
    bus = running.engine.bus
    since = bus.last_seq
    bus.publish(AlertRaised(kind="a", message="1"))
    bus.publish("plain text", type="log")
    bus.publish(AlertRaised(kind="b", message="3"))
    async with mats.sdk.connect(running.url, TOKEN) as m, m.stream(types=["alert"], since=since) as events:
        one, three = await take(events, 2)
    assert (one.type, one.data["message"], three.data["message"]) == ("alert", "1", "3")
    assert three.seq == one.seq + 2 and one.at.tzinfo is not None
    async with mats.sdk.connect(running.url, TOKEN) as m, m.stream(types={"log"}, since=since) as logs:
        async with asyncio.timeout(10):
            text = await anext(e async for e in logs if e.seq == one.seq + 1)
    assert text.data == {"value": "plain text"}  # data that is not an object is wrapped


async def test_closing_the_client_ends_a_stream_watched_in_another_task(running: Running) -> None:
    bus = running.engine.bus
    seen: list[Event] = []
    first = asyncio.Event()
    m = mats.sdk.connect(running.url, TOKEN)
    events = m.stream(types={"alert"}, since=bus.last_seq)

    async def watch() -> None:
        async for event in events:
            seen.append(event)
            first.set()

    watcher = asyncio.create_task(watch())
    bus.publish(AlertRaised(kind="test", message="seen"))
    await asyncio.wait_for(first.wait(), 10)
    await m.aclose()
    await asyncio.wait_for(watcher, 5)  # ended, not failed
    assert seen[0].data["message"] == "seen"
