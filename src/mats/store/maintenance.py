"""Compaction on demand: micro-batched appends leave many small segments; merging them keeps reads fast.

The live flusher compacts what it appends by itself (``Flusher.compact_after``); ``compact_all`` is for an
operator's maintenance or a symbol written by something else. Compaction runs through the same
ArcticStore (one call at a time), so it never races the flusher on a symbol. ``compact_data`` keeps the
symbol's latest metadata (the flusher's ``last_seq``), so compaction does not disturb exactly-once
flushing."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from mats.store.arctic import ArcticStore

log = structlog.get_logger(__name__)


async def compact_all(store: ArcticStore, targets: Sequence[tuple[str, str]]) -> int:
    """Compact each existing (library, symbol); a failure is logged, the rest still run. Returns successes."""
    done = 0
    for library, symbol in targets:
        if not await store.has_symbol(library, symbol):
            continue
        try:
            await store.compact(library, symbol)
            done += 1
        except Exception as exc:
            log.error(
                "compact.failed",
                library=library,
                symbol=symbol,
                error=repr(exc)[:300],
                kept="data untouched; compaction retried next round",
            )
    return done
