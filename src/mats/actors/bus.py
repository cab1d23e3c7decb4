"""EventBus: every event gets a sequence number; each subscriber has its own bounded queue.

Publishing never waits. A subscriber that falls behind by more than its queue holds is marked
``lagged`` and closed (it learns so on its next read, after what it already had), so a slow reader —
a stalled browser, a notebook left open — can never stall trading. The bus keeps a short history, so a
client that reconnects can resume from the last ``seq`` it saw.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from mats.kept import Kept


class Envelope(msgspec.Struct, frozen=True):
    """What the stream sends: ``{"seq": n, "type": …, "at": …, "data": {…}}``."""

    seq: int
    type: str
    at: datetime
    data: Any


class SubscriptionLagged(RuntimeError):
    """The subscriber fell too far behind; events after ``last_seq`` were not queued for it."""

    def __init__(self, last_seq: int, dropped: int) -> None:
        super().__init__(f"subscriber fell behind after seq {last_seq}; {dropped} events not delivered")
        self.last_seq = last_seq
        self.dropped = dropped


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int, types: frozenset[str] | None) -> None:
        self._bus = bus
        self.maxsize = maxsize
        self.types = types
        self._queue: deque[Envelope] = deque()
        self._ready = asyncio.Event()
        self.lagged = False
        self.closed = False
        self.dropped = 0
        self.last_queued_seq = 0

    def offer(self, envelope: Envelope) -> None:
        if self.closed or (self.types is not None and envelope.type not in self.types):
            return
        if self.lagged or len(self._queue) >= self.maxsize:
            self.lagged = True
            self.dropped += 1
            self._ready.set()
            return
        self._queue.append(envelope)
        self.last_queued_seq = envelope.seq
        self._ready.set()

    def get_nowait(self) -> Envelope | None:
        if self._queue:
            return self._queue.popleft()
        if self.lagged:
            self.close()
            raise SubscriptionLagged(self.last_queued_seq, self.dropped)
        return None

    async def get(self) -> Envelope:
        while True:
            envelope = self.get_nowait()
            if envelope is not None:
                return envelope
            if self.closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()

    def __aiter__(self) -> AsyncIterator[Envelope]:
        return self

    async def __anext__(self) -> Envelope:
        return await self.get()

    @property
    def depth(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._bus._forget(self)


class EventBus:
    def __init__(self, *, history: int = 10_000) -> None:
        self._seq = 0
        self._history: deque[Envelope] = deque(maxlen=history)
        self._subscribers: list[Subscription] = []

    def publish(self, event: Any, *, type: str | None = None) -> Envelope:
        self._seq += 1
        envelope = Envelope(
            seq=self._seq,
            type=type if type is not None else str(getattr(event, "stream_type", "log")),
            at=datetime.now(UTC),
            data=event,
        )
        self._history.append(envelope)
        for subscriber in self._subscribers:
            subscriber.offer(envelope)
        return envelope

    def subscribe(
        self, *, maxsize: int = 1_000, since: int | None = None, types: set[str] | None = None
    ) -> Subscription:
        """A new queue; with ``since``, events after that seq still in the history are queued first."""
        subscription = Subscription(self, maxsize, frozenset(types) if types else None)
        if since is not None:
            for envelope in self.history_since(since):
                subscription.offer(envelope)
        self._subscribers.append(subscription)
        return subscription

    def history_since(self, seq: int) -> list[Envelope]:
        if not self._history or seq >= self._seq:
            return []
        first = self._history[0].seq
        return list(self._history)[max(0, seq + 1 - first) :]

    def kept(self) -> list[Kept]:
        return [Kept("event_history", len(self._history), self._history.maxlen or 0)]

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def oldest_seq(self) -> int:
        return self._history[0].seq if self._history else self._seq + 1

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _forget(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
