"""StoreComponent: the engine's ArcticDB store, opened first and closed last.

The live path's journal flushes into it (``LiveTrading`` runs the flusher once the account is known),
the API reads from it, and the strategy registry lives in ``general/strategies``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import msgspec
import pandas as pd
import structlog

from mats.model import StrategySpec
from mats.store.arctic import ArcticStore

if TYPE_CHECKING:
    from mats.engine import Engine

log = structlog.get_logger("mats.storage")

GENERAL = "general"
STRATEGIES = "strategies"


class StoreComponent:
    name = "store"

    def __init__(self, uri: str, namespace: str = "") -> None:
        if uri.startswith(("s3://", "s3s://")):
            # The AWS SDK would otherwise probe EC2 metadata endpoints for credentials on every start.
            os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        self.store = ArcticStore(uri, namespace)

    async def start(self, engine: Engine) -> None:
        await self.store.open()
        engine.store = self.store

    async def stop(self) -> None:
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
