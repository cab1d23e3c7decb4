"""Pre-encoded JSON for the hot reads: built once, served as bytes to every caller until it may be stale.

A dashboard polling ``/api/portfolio`` a few thousand times a second must not rebuild and re-encode the
same book each time on the engine's loop (bench/api_load.py). A body is rebuilt when the event bus has
published anything since (a fill, an order, a position change: the book changed) or when it is older
than ``max_age`` (market prices move without events), so a read is never more than ``max_age`` behind
the actors' memory. The stream's envelopes are encoded once per event for all clients the same way.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import msgspec

from mats.actors.bus import Envelope, EventBus

MAX_AGE_S = 0.05
MAX_ENTRIES = 64  # query strings (strategy_id, limit) name entries; a scan of many evicts the oldest
MAX_ENVELOPES = 4_096

_encoder = msgspec.json.Encoder()


def read_key(scope: Mapping[str, Any]) -> tuple[str, bytes]:
    """A read's cache key: its path and raw query string (the same query always parses the same)."""
    return scope["path"], scope["query_string"]


class _Body(msgspec.Struct):
    seq: int
    built_at: float
    body: bytes


class EncodedReads:
    """JSON bodies by key, valid while the bus's seq is unchanged and for at most ``max_age`` seconds."""

    def __init__(self, bus: EventBus, *, max_age: float = MAX_AGE_S, max_entries: int = MAX_ENTRIES) -> None:
        self.bus = bus
        self.max_age = max_age
        self.max_entries = max_entries
        self.builds = 0
        self.hits = 0
        self._bodies: OrderedDict[Hashable, _Body] = OrderedDict()

    def fresh(self, key: Hashable) -> bytes | None:
        """The body for ``key`` if it is still valid, else None."""
        cached = self._bodies.get(key)
        if (
            cached is not None
            and cached.seq == self.bus.last_seq
            and time.monotonic() - cached.built_at < self.max_age
        ):
            self.hits += 1
            return cached.body
        return None

    def get(self, key: Hashable, build: Callable[[], Any]) -> bytes:
        """The body for ``key``; ``build()`` makes the value to encode when there is none fresh."""
        body = self.fresh(key)
        if body is not None:
            return body
        seq, now = self.bus.last_seq, time.monotonic()
        body = _encoder.encode(build())  # an error (e.g. 409: no trading) propagates and caches nothing
        self.builds += 1
        self._bodies[key] = _Body(seq, now, body)
        self._bodies.move_to_end(key)
        while len(self._bodies) > self.max_entries:
            self._bodies.popitem(last=False)
        return body


class EncodedEnvelopes:
    """Each envelope's JSON text, encoded by the first stream client that sends it, reused by the rest."""

    def __init__(self, max_entries: int = MAX_ENVELOPES) -> None:
        self.max_entries = max_entries
        self._texts: OrderedDict[int, str] = OrderedDict()

    def text(self, envelope: Envelope) -> str:
        text = self._texts.get(envelope.seq)
        if text is None:
            text = _encoder.encode(envelope).decode()
            self._texts[envelope.seq] = text
            if len(self._texts) > self.max_entries:
                self._texts.popitem(last=False)
        return text
