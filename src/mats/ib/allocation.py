"""Which IB clientId a strategy trades through.

A real Gateway accepts at most 32 API connections (``ib.max_clients``); two go to the engine (0) and
the recorder (the master client, 99). A strategy gets a clientId of its own while there is room and
keeps it across restarts (only the placing client may cancel or modify an order, so a restarted
strategy must come back under the same id). Past the limit, strategies share the least-loaded
execution clients. Attribution never depends on the clientId: it comes from the orderRef.
"""

from __future__ import annotations

from collections import Counter

ENGINE_CLIENT_ID = 0
FIRST_STRATEGY_CLIENT_ID = 1
LAST_STRATEGY_CLIENT_ID = 98


class ClientAllocator:
    def __init__(self, *, max_clients: int, master_client_id: int = 99) -> None:
        reserved = {ENGINE_CLIENT_ID, master_client_id}
        self.capacity = max(max_clients - len(reserved), 1)
        self._free_ids = [
            cid for cid in range(FIRST_STRATEGY_CLIENT_ID, LAST_STRATEGY_CLIENT_ID + 1) if cid not in reserved
        ]
        self._by_strategy: dict[str, int] = {}
        self._load: Counter[int] = Counter()

    def assign(self, strategy_id: str, preferred: int | None = None) -> int:
        """The strategy's clientId: its previous one if given and usable, else a new or shared one."""
        if strategy_id in self._by_strategy:
            return self._by_strategy[strategy_id]
        client_id = self._pick(preferred)
        self._by_strategy[strategy_id] = client_id
        self._load[client_id] += 1
        return client_id

    def release(self, strategy_id: str) -> int | None:
        """Forget the strategy; returns its clientId when no other strategy uses it any more."""
        client_id = self._by_strategy.pop(strategy_id, None)
        if client_id is None:
            return None
        self._load[client_id] -= 1
        if self._load[client_id] <= 0:
            del self._load[client_id]
            return client_id
        return None

    def client_of(self, strategy_id: str) -> int | None:
        return self._by_strategy.get(strategy_id)

    def strategies_on(self, client_id: int) -> list[str]:
        return sorted(sid for sid, cid in self._by_strategy.items() if cid == client_id)

    def is_shared(self, client_id: int) -> bool:
        return self._load.get(client_id, 0) > 1

    @property
    def connections(self) -> int:
        return len(self._load)

    def _pick(self, preferred: int | None) -> int:
        in_use = set(self._load)
        room = len(in_use) < self.capacity
        if preferred is not None and preferred in self._free_ids and (preferred in in_use or room):
            return preferred
        if room:
            return next(cid for cid in self._free_ids if cid not in in_use)
        # No room for another connection: share the least-loaded one (lowest id on ties).
        return min(in_use, key=lambda cid: (self._load[cid], cid))
