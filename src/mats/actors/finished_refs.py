"""The orderRefs of finished orders the TradeManager let go of: never sent again, in bounded memory.

A retried ``PlaceOrder`` must never reach IB twice, even after its order finished and left memory. A
session places tens of thousands of orders; keeping every ref for the life of the process was the last
per-order growth on the live path. The newest ``keep`` refs are held exactly; older ones are covered by
a watermark, because MATS's refs end in a ULID, which sorts by the time it was made: any ULID at or
before the newest one dropped from the set belongs to an order that finished long ago. A ref that does
not end in a ULID (a test's, say) is only ever recognised while it is in the set.
"""

from __future__ import annotations

from collections import deque

from mats.ulids import CROCKFORD

KEEP = 10_000
_ULID_LENGTH = 26
_CROCKFORD = frozenset(CROCKFORD)


def _ulid_of(order_ref: str) -> str | None:
    tail = order_ref.rpartition(":")[2]
    return tail if len(tail) == _ULID_LENGTH and _CROCKFORD.issuperset(tail) else None


class FinishedRefs:
    def __init__(self, keep: int = KEEP) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.keep = keep
        self._refs: set[str] = set()
        self._oldest_first: deque[str] = deque()
        self._watermark = ""  # the newest ULID let go of; every ULID at or before it finished

    def add(self, order_ref: str) -> None:
        if order_ref in self._refs:
            return
        self._refs.add(order_ref)
        self._oldest_first.append(order_ref)
        while len(self._oldest_first) > self.keep:
            dropped = self._oldest_first.popleft()
            self._refs.discard(dropped)
            ulid = _ulid_of(dropped)
            if ulid is not None and ulid > self._watermark:
                self._watermark = ulid

    def __contains__(self, order_ref: object) -> bool:
        if not isinstance(order_ref, str):
            return False
        if order_ref in self._refs:
            return True
        ulid = _ulid_of(order_ref)
        return ulid is not None and self._watermark != "" and ulid <= self._watermark

    def __len__(self) -> int:
        return len(self._refs)
