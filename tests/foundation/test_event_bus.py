"""EventBus: a subscriber that never reads cannot slow publishing; others get every event in order."""

from __future__ import annotations

import asyncio

import pytest

from mats.actors import EventBus, SubscriptionLagged
from mats.messages import AlertRaised


def alert(i: int) -> AlertRaised:
    return AlertRaised(kind="test", message=str(i))


async def test_stalled_subscriber_never_slows_publishing_and_others_see_every_event_in_order() -> None:
    bus = EventBus(history=1_000)
    stalled = bus.subscribe(maxsize=100)  # never reads
    reader = bus.subscribe(maxsize=200_000)
    received: list[int] = []

    async def consume() -> None:
        async for envelope in reader:
            received.append(envelope.seq)
            if len(received) == 100_000:
                return

    consumer = asyncio.create_task(consume())
    for i in range(100_000):
        bus.publish(alert(i))  # synchronous: publishing cannot wait on anybody
    await asyncio.wait_for(consumer, timeout=30)

    assert received == list(range(1, 100_001))
    assert stalled.lagged and stalled.depth == 100 and stalled.dropped == 99_900
    # The stalled queue stayed bounded: memory does not grow with what it failed to read.
    for _ in range(100):
        assert stalled.get_nowait() is not None  # what it had queued is still delivered
    with pytest.raises(SubscriptionLagged) as lagged:
        stalled.get_nowait()
    assert lagged.value.last_seq == 100 and lagged.value.dropped == 99_900
    assert bus.subscriber_count == 1  # the lagged subscriber is gone


async def test_reconnecting_client_resumes_from_its_last_seq() -> None:
    bus = EventBus(history=50)
    for i in range(120):
        bus.publish(alert(i))
    resumed = bus.subscribe(since=100)
    seqs = []
    while (envelope := resumed.get_nowait()) is not None:
        seqs.append(envelope.seq)
    assert seqs == list(range(101, 121))
    assert bus.oldest_seq == 71  # older events fell out of the history
    assert [e.seq for e in bus.history_since(10)] == list(range(71, 121))


async def test_envelope_carries_the_stream_type_of_its_event() -> None:
    bus = EventBus()
    envelope = bus.publish(alert(1))
    assert (envelope.seq, envelope.type, envelope.data.message) == (1, "alert", "1")
    assert envelope.at.tzinfo is not None
