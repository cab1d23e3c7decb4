"""Hands the IB sockets' bytes to ib_async's decoder a message at a time, within a budget per loop iteration.

ib_async decodes everything one socket read delivered inside that read's callback. After a burst (the
master client sees every client's orders and fills; 98 strategies crossing in the same second send
dozens of orders) one read holds dozens of messages, and a dozen clients' reads land in the same loop
iteration: 10–20 ms in which no timer, bar or actor runs (``bench/live_latency.py`` part 3). Its buffer
handling is also quadratic in a read's size (the rest is copied after each message).

Here every client's socket feeds a ``PacedReader``, and all of them share one ``DecodeBudget``: the
decoder gets whole messages, one at a time, until this loop iteration's budget is spent; the rest waits,
first come first served, for the next iteration, behind whatever else is ready. Nothing is dropped or
reordered: one socket's messages are decoded in arrival order, at least one message per turn, and every
byte already read is decoded before the client hears that its socket closed, or before MATS closes it.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ib_async import IB

PER_ITERATION_S = 0.0015
_LENGTH = struct.Struct(">I")


class DecodeBudget:
    """Decoding time all IB sockets may take in one loop iteration, and the queue of those that wait."""

    def __init__(self, per_iteration_s: float = PER_ITERATION_S) -> None:
        self.per_iteration_s = per_iteration_s
        self.spent = 0.0
        self.deferred = 0  # turns that waited for a later iteration
        self._waiting: deque[PacedReader] = deque()
        self._reset_scheduled = False

    @property
    def exhausted(self) -> bool:
        """Spent for this iteration; a fresh iteration always lets one message through."""
        return self.spent > 0 and self.spent >= self.per_iteration_s

    def charge(self, seconds: float) -> None:
        self.spent += seconds
        self._schedule_reset()

    def wait(self, reader: PacedReader) -> None:
        self.deferred += 1
        self._waiting.append(reader)
        self._schedule_reset()

    def forget(self, reader: PacedReader) -> None:
        if reader in self._waiting:
            self._waiting.remove(reader)

    def _schedule_reset(self) -> None:
        if not self._reset_scheduled:
            self._reset_scheduled = True
            asyncio.get_running_loop().call_soon(self._next_iteration)

    def _next_iteration(self) -> None:
        """First in the next iteration: a fresh budget, given to the readers that waited, oldest first."""
        self._reset_scheduled = False
        self.spent = 0.0
        for _ in range(len(self._waiting)):
            if self.exhausted:
                break
            self._waiting.popleft().drain()  # one message at least
        if self._waiting:
            self._schedule_reset()


class PacedReader:
    """Between one socket and its decoder: ``feed`` the bytes read, ``flush`` before the decoder resets."""

    def __init__(self, decode: Callable[[bytes], None], budget: DecodeBudget) -> None:
        self._decode = decode
        self._budget = budget
        self._buffer = bytearray()
        self._waiting = False

    @property
    def pending(self) -> int:
        """Bytes read but not decoded yet (a message's head waiting for its tail included)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if self._waiting:
            return  # queued already: behind the bytes before these
        if self._budget.exhausted:
            self._waiting = True
            self._budget.wait(self)
            return
        self.drain()

    def drain(self) -> None:
        """Decode whole messages while the budget lasts (one at least); queue for the rest."""
        self._waiting = False
        budget = self._budget
        started = time.perf_counter()
        try:
            while self._decode_one():
                if budget.spent + (time.perf_counter() - started) >= budget.per_iteration_s:
                    if self._complete_message_waiting():
                        self._waiting = True
                        budget.wait(self)
                    break
        finally:
            budget.charge(time.perf_counter() - started)

    def flush(self) -> None:
        """Decode every whole message read so far, now: the socket closed, or MATS is about to close it."""
        self._budget.forget(self)
        self._waiting = False
        while self._decode_one():
            pass

    def discard(self) -> int:
        """Drop what is left, a message cut off by the closed socket: a new connection starts clean."""
        dropped = len(self._buffer)
        self._buffer.clear()
        return dropped

    def _complete_message_waiting(self) -> bool:
        buffer = self._buffer
        return len(buffer) >= 4 and len(buffer) >= 4 + _LENGTH.unpack_from(buffer)[0]

    def _decode_one(self) -> bool:
        if not self._complete_message_waiting():
            return False
        end = 4 + _LENGTH.unpack_from(self._buffer)[0]
        message = bytes(self._buffer[:end])
        del self._buffer[:end]
        self._decode(message)
        return True


def install_paced_reader(ib: IB, budget: DecodeBudget) -> PacedReader:
    """Put a ``PacedReader`` between ``ib``'s socket and its decoder, for the life of the ``IB`` object."""
    client = ib.client
    conn = client.conn
    reader = PacedReader(client._onSocketHasData, budget)
    conn.hasData -= client._onSocketHasData
    conn.hasData += reader.feed
    lost = client._onSocketDisconnected

    def socket_closed(message: str) -> None:
        reader.flush()
        reader.discard()
        lost(message)

    conn.disconnected -= lost
    conn.disconnected += socket_closed
    disconnect = client.disconnect

    def disconnecting(*args: Any, **kwargs: Any) -> Any:
        reader.flush()
        reader.discard()
        return disconnect(*args, **kwargs)

    client.disconnect = disconnecting  # type: ignore[method-assign]
    return reader
