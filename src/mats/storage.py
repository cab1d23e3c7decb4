"""StoreComponent: the engine's ArcticDB store, opened first and closed last.

The live path's journal flushes into it (``LiveTrading`` runs the flusher once the account is known),
the API reads from it, and the strategy registry lives in ``general/strategies``. On start it claims its
namespace of the store (``mats.store.lease``): a second engine on the same namespace is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING

import msgspec
import pandas as pd
import structlog

from mats.model import StrategySpec
from mats.store.arctic import ArcticStore
from mats.store.lease import DEFAULT_TTL, EngineLease, claim, new_lease, release, renew_forever
from mats.thread_priority import BACKGROUND_NICE

if TYPE_CHECKING:
    from mats.engine import Engine

log = structlog.get_logger("mats.storage")

GENERAL = "general"
STRATEGIES = "strategies"


class StoreComponent:
    name = "store"

    def __init__(
        self,
        uri: str,
        namespace: str = "",
        *,
        lease_ttl: float = DEFAULT_TTL,
        thread_nice: int = BACKGROUND_NICE,
    ) -> None:
        if uri.startswith(("s3://", "s3s://")):
            # The AWS SDK would otherwise probe EC2 metadata endpoints for credentials on every start.
            os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        self.store = ArcticStore(uri, namespace, thread_nice=thread_nice)
        self.lease_ttl = lease_ttl
        self.lease: EngineLease | None = None
        self._renewing: asyncio.Task[None] | None = None

    async def start(self, engine: Engine) -> None:
        await self.store.open()
        settings = engine.settings
        try:
            self.lease = await claim(
                self.store, new_lease(settings.ib.account, str(settings.data_dir)), ttl=self.lease_ttl
            )
            if settings.ib.account:  # the flusher's library, opened while storage is known to answer
                await self.store.open_library(settings.ib.account)
        except BaseException:
            await self.store.close()
            raise
        self._renewing = asyncio.create_task(
            renew_forever(self.store, self.lease, ttl=self.lease_ttl), name="store-lease"
        )
        engine.store = self.store

    async def stop(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
        if self.lease is not None:
            try:
                await release(self.store, self.lease)
            except Exception as exc:  # storage down at shutdown: the lease goes stale after its ttl
                log.warning("lease.release_failed", error=repr(exc), kept="stale after ttl")
        await self.store.close()


async def load_strategy_specs(store: ArcticStore) -> list[tuple[StrategySpec, int | None]]:
    """The registered strategies with their last clientId (rows of ``general/strategies``); rows that no
    longer validate are logged and skipped."""
    if not await store.has_symbol(GENERAL, STRATEGIES):
        return []
    frame = await store.read(GENERAL, STRATEGIES)
    specs = []
    for row in frame.itertuples(index=False):
        try:
            client_id = int(str(row.client_id))
            spec = msgspec.json.decode(str(row.spec), type=StrategySpec)
            specs.append((spec, client_id if client_id >= 0 else None))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("strategies.row_invalid", strategy_id=getattr(row, "strategy_id", "?"), error=str(exc))
    return specs


async def save_strategy_specs(
    store: ArcticStore, specs: list[StrategySpec], statuses: dict[str, str], client_ids: dict[str, int]
) -> None:
    """Rewrite the small registry table in one write (one writer: this engine)."""
    now = pd.Timestamp.now(tz="UTC")
    rows = [
        {
            "strategy_id": spec.strategy_id,
            "cls": spec.cls,
            "symbols": msgspec.json.encode(spec.symbols).decode(),
            "params": msgspec.json.encode(spec.params).decode(),
            "target_weight": float(spec.target_weight),
            "equity": float("nan") if spec.equity is None else float(spec.equity),
            "client_id": int(client_ids.get(spec.strategy_id, -1)),
            "enabled": bool(spec.autostart),
            "status": statuses.get(spec.strategy_id, "registered"),
            "spec": msgspec.json.encode(spec).decode(),
            "updated_at": now,
        }
        for spec in specs
    ]
    columns = ["strategy_id", "cls", "symbols", "params", "target_weight", "equity", "client_id", "enabled",
               "status", "spec", "updated_at"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    await store.write(GENERAL, STRATEGIES, frame)
