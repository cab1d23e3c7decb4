"""A bounded two-lane mailbox: control (orders, cancels, fills, start/stop) is drained before data.

The lanes encode DESIGN.md section 1's rules. A full control lane makes the sender wait. Bars are never
dropped: when the data lane overflows the mailbox reports it, and the owning actor is stopped loudly.
Ticks are coalesced per key (latest wins), keeping their place in the data lane, and counted.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Any


class MailboxFull(RuntimeError):
    """The control lane is full and the sender could not wait (a synchronous caller)."""


class MailboxClosed(RuntimeError):
    """The actor has stopped; nothing more is accepted."""


class MailboxOverflow(RuntimeError):
    """The data lane overflowed: the consumer cannot keep up with the bars it is sent."""


class _TickSlot:
    """Placeholder holding a coalesced tick's place in the data lane."""

    __slots__ = ("key",)

    def __init__(self, key: Hashable) -> None:
        self.key = key


class Mailbox:
    def __init__(self, *, control_capacity: int = 1_000, data_capacity: int = 10_000) -> None:
        if control_capacity < 1 or data_capacity < 1:
            raise ValueError("mailbox capacities must be at least 1")
        self.control_capacity = control_capacity
        self.data_capacity = data_capacity
        self._control: deque[Any] = deque()
        self._data: deque[Any] = deque()
        self._ticks: dict[Hashable, Any] = {}
        self._readable = asyncio.Event()
        self._control_space = asyncio.Event()
        self._control_space.set()
        self._closed = False
        self.overflow: str | None = None
        self.coalesced_ticks = 0

    # --- producers --------------------------------------------------------------------------------

    async def put_control(self, item: Any) -> None:
        while len(self._control) >= self.control_capacity:
            self._check_open()
            self._control_space.clear()
            await self._control_space.wait()
        self.put_control_nowait(item)

    def put_control_nowait(self, item: Any) -> None:
        self._check_open()
        if len(self._control) >= self.control_capacity:
            raise MailboxFull(f"control lane full ({self.control_capacity} messages waiting)")
        self._control.append(item)
        self._readable.set()

    def put_data(self, item: Any) -> None:
        """Queue a bar; past capacity the mailbox marks itself overflowed instead of dropping it."""
        self._check_open()
        if self.overflow is not None:
            raise MailboxOverflow(self.overflow)
        if len(self._data) >= self.data_capacity:
            self.overflow = (
                f"data lane overflowed: {len(self._data)} bars waiting (capacity {self.data_capacity}); "
                "the consumer cannot keep up"
            )
            self._readable.set()
            raise MailboxOverflow(self.overflow)
        self._data.append(item)
        self._readable.set()

    def put_tick(self, key: Hashable, item: Any) -> None:
        """Queue a tick; an unconsumed tick for the same key is replaced (and counted)."""
        self._check_open()
        if key in self._ticks:
            self._ticks[key] = item
            self.coalesced_ticks += 1
            return
        self._ticks[key] = item
        self._data.append(_TickSlot(key))
        self._readable.set()

    # --- consumer ---------------------------------------------------------------------------------

    async def get(self) -> Any:
        while True:
            item = self.get_nowait()
            if item is not _EMPTY:
                return item
            self._check_open()
            self._readable.clear()
            await self._readable.wait()

    def get_nowait(self) -> Any:
        """Next message, control lane first; ``_EMPTY`` when nothing is waiting."""
        if self._control:
            item = self._control.popleft()
            if len(self._control) < self.control_capacity:
                self._control_space.set()
            return item
        if self.overflow is not None:
            raise MailboxOverflow(self.overflow)
        if self._data:
            item = self._data.popleft()
            if isinstance(item, _TickSlot):
                return self._ticks.pop(item.key)
            return item
        return _EMPTY

    def close(self) -> list[Any]:
        """Refuse new messages; return the control messages nobody will handle (to fail their askers)."""
        self._closed = True
        leftover = list(self._control)
        self._control.clear()
        self._data.clear()
        self._ticks.clear()
        self._readable.set()
        self._control_space.set()
        return leftover

    # --- introspection ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def control_depth(self) -> int:
        return len(self._control)

    @property
    def data_depth(self) -> int:
        return len(self._data)

    def _check_open(self) -> None:
        if self._closed:
            raise MailboxClosed("mailbox is closed: the actor has stopped")


class _Empty:
    def __repr__(self) -> str:
        return "<empty>"


_EMPTY: Any = _Empty()
