"""Flusher: journal rows → ArcticDB in micro-batches, exactly once.

Each flush appends, per symbol (``{account}/fills``, ``{account}/orders``), the journal rows after that
symbol's last flushed sequence, in journal order, in ONE append whose metadata records ``last_seq`` (and the
journal's id). ArcticDB writes the version reference last, so the rows and their ``last_seq`` become visible
together or not at all: a flush interrupted anywhere is re-done from the metadata on the next start, never
lost and never repeated. The journal's own mark is only a hint written after the append.

Each append adds a small segment to the symbol, and ArcticDB's cost per append (time, and memory it keeps)
grows with the number of segments since the last compaction (``bench/memory_profile.py --arctic``: without
compaction ~2.7 KiB of heap per append, never returned; 20 → 46 ms per append by 15,000). So the flusher
compacts a symbol itself after every ``compact_after`` appends to it: it is the symbol's one writer, so
compaction never races an append, and ``compact_data`` keeps the metadata, so ``last_seq`` survives. The
tail stays short, and appends and memory stay flat all day; a compaction merges only that tail (tens of
milliseconds whatever the symbol's size). The first append after a start compacts too, so restarts cannot
pile up tails. A failed compaction is logged and retried after another ``compact_after`` appends: the data
is untouched.

If ArcticDB fails or stalls, the journal keeps acknowledging fills (it runs on its own thread), the flusher
reports ``degraded`` (property + callback), backs off, re-reads the metadata (a failed call may have landed)
and flushes the backlog when storage returns."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pandas as pd
import structlog

from mats.store.arctic import ArcticStore
from mats.store.crashpoints import AFTER_ARCTIC_APPEND_BEFORE_MARK, MID_FLUSH, crash_point
from mats.store.journal import Journal
from mats.store.schemas import FILLS_SYMBOL, ORDERS_SYMBOL

log = structlog.get_logger(__name__)

STREAMS = (FILLS_SYMBOL, ORDERS_SYMBOL)
#: Seconds between flushes (``storage.flush_interval_ms``, 250 by default); ≤ 1 append per stream each.
DEFAULT_INTERVAL = 0.25
#: Appends to a symbol between compactions (about a minute of continuous flushing at the default interval).
COMPACT_AFTER_APPENDS = 250

DegradedCallback = Callable[[bool, str], None]
FlushListener = Callable[[str, pd.DataFrame], None]


class Flusher:
    """Moves one account's journal rows to ``{account}/fills`` and ``{account}/orders``; run it as a task."""

    def __init__(
        self,
        journal: Journal,
        store: ArcticStore,
        account: str,
        *,
        max_rows: int = 10_000,
        interval: float = DEFAULT_INTERVAL,
        stall_after: float = 2.0,
        compact_after: int = COMPACT_AFTER_APPENDS,
        backoff: tuple[float, float] = (0.1, 5.0),
        on_degraded: DegradedCallback | None = None,
    ) -> None:
        self.journal = journal
        self.store = store
        self.account = account
        self.max_rows = max_rows
        self.interval = interval
        self.stall_after = stall_after
        self.backoff = backoff
        self.flushed: dict[str, int] = dict.fromkeys(STREAMS, 0)
        self.appends = 0  # ArcticDB appends made
        self.compactions = 0
        self.compact_after = compact_after
        # Appends since each symbol's last compaction; starting "due" compacts once after a (re)start.
        self._since_compaction: dict[str, int] = dict.fromkeys(STREAMS, compact_after)
        self._on_degraded = on_degraded
        self._listeners: list[FlushListener] = []
        self._degraded = False
        self._degraded_reason = ""
        self._synced = False
        self._seen_committed = -1  # journal.committed_seq when the journal last had nothing more for us
        self._wake = anyio.Event()
        self._progress = anyio.Event()
        self._log = log.bind(account=account)
        journal.add_commit_listener(self._on_commit)

    # ---- state ------------------------------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        """True while ArcticDB is failing or stalled; the journal holds everything meanwhile."""
        return self._degraded

    @property
    def degraded_reason(self) -> str:
        return self._degraded_reason

    @property
    def pending(self) -> bool:
        return self.journal.committed_seq != self._seen_committed

    def add_listener(self, listener: FlushListener) -> None:
        """Called with (symbol, rows) after rows reached ArcticDB (e.g. to keep a FoldedFills view warm)."""
        self._listeners.append(listener)

    def _set_degraded(self, degraded: bool, reason: str) -> None:
        if degraded == self._degraded:
            return
        self._degraded, self._degraded_reason = degraded, reason
        if degraded:
            self._log.warning("flush.degraded", reason=reason, journal_seq=self.journal.committed_seq)
        else:
            self._log.info("flush.recovered", flushed=dict(self.flushed))
        if self._on_degraded is not None:
            self._on_degraded(degraded, reason)

    def _on_commit(self, committed: int) -> None:
        if committed - max(self._seen_committed, 0) >= self.max_rows:
            self._wake.set()

    # ---- recovery ---------------------------------------------------------------------------------------

    async def recover(self) -> dict[str, int]:
        """Read each symbol's last flushed sequence from ArcticDB (the authority) and resume after it."""
        for stream in STREAMS:
            meta = await self.store.read_metadata(self.account, stream)
            last = 0
            if isinstance(meta, dict) and meta.get("journal_id") == self.journal.journal_id:
                last = int(meta.get("last_seq", 0))
            elif isinstance(meta, dict):
                self._log.warning(
                    "flush.foreign_journal",
                    symbol=stream,
                    stored_journal=meta.get("journal_id"),
                    journal=self.journal.journal_id,
                    detail="symbol holds rows of another journal; appending this journal's rows after them",
                )
            mark = await self.journal.flushed_mark(stream)
            if mark > last:
                self._log.warning(
                    "flush.mark_ahead",
                    symbol=stream,
                    mark=mark,
                    stored=last,
                    detail="ArcticDB has fewer rows than the journal recorded; re-flushing them",
                )
            self.flushed[stream] = last
        self._synced = True
        self._seen_committed = -1
        self._log.info("flush.recovered_position", flushed=dict(self.flushed))
        return dict(self.flushed)

    # ---- flushing ---------------------------------------------------------------------------------------

    async def flush_once(self) -> int:
        """One append per symbol with the rows after its last flushed sequence; returns rows written."""
        if not self._synced:
            await self.recover()
        committed = self.journal.committed_seq
        written = 0
        more = False
        for stream in STREAMS:
            n, full = await self._flush_stream(stream)
            written += n
            more = more or full
        if not more:
            self._seen_committed = committed
        if written:
            self._progress.set()
            self._progress = anyio.Event()
        return written

    async def _flush_stream(self, stream: str) -> tuple[int, bool]:
        since = self.flushed[stream]
        reader: Callable[[int, int], Awaitable[pd.DataFrame]] = (
            self.journal.fills_since if stream == FILLS_SYMBOL else self.journal.orders_since
        )
        rows = await reader(since, self.max_rows)
        if rows.empty:
            return 0, False
        last_seq = int(rows["seq"].iloc[-1])
        metadata: dict[str, Any] = {"journal_id": self.journal.journal_id, "last_seq": last_seq}
        crash_point(MID_FLUSH)
        await self.store.append(self.account, stream, rows, metadata=metadata)
        self.appends += 1
        crash_point(AFTER_ARCTIC_APPEND_BEFORE_MARK)
        self.flushed[stream] = last_seq
        await self.journal.mark_flushed(stream, last_seq)
        self._log.debug("flush.done", symbol=stream, rows=len(rows), last_seq=last_seq)
        for listener in self._listeners:
            listener(stream, rows)
        self._since_compaction[stream] += 1
        if self._since_compaction[stream] >= self.compact_after:
            await self._compact(stream)
        return len(rows), len(rows) >= self.max_rows

    async def _compact(self, stream: str) -> None:
        """Merge the symbol's appended tail; a failure leaves the data as it was and is retried later."""
        self._since_compaction[stream] = 0
        try:
            await self.store.compact(self.account, stream)
            self.compactions += 1
        except Exception as exc:
            self._log.error(
                "flush.compact_failed",
                symbol=stream,
                error=repr(exc)[:300],
                kept=f"data untouched; compacted again after {self.compact_after} more appends",
            )

    async def _flush_guarded(self) -> int:
        """flush_once, reporting degraded if it fails or takes longer than ``stall_after``."""

        async def watch_stall() -> None:
            await anyio.sleep(self.stall_after)
            self._set_degraded(True, f"storage call stalled for more than {self.stall_after:g}s")

        error: Exception | None = None
        written = 0
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_stall)
            try:
                written = await self.flush_once()
            except Exception as exc:  # raised below, outside the group, so callers see it unwrapped
                error = exc
            finally:
                tg.cancel_scope.cancel()
        if error is not None:
            raise error
        self._set_degraded(False, "")
        return written

    async def run(self) -> None:
        """Flush every ``interval`` seconds or ``max_rows`` rows, for ever; back off while ArcticDB fails."""
        delay = self.backoff[0]
        while True:
            # Always the interval between flushes, pending rows or not (``max_rows`` of them or
            # ``wait_flushed`` wake it early): rows committed during a flush wait for the next one. Flushing
            # again at once whenever something was pending made it flush after every journal commit, over
            # 300 times a second while trading, each with its thread hops and ArcticDB append.
            with anyio.move_on_after(self.interval):
                await self._wake.wait()
            self._wake = anyio.Event()
            if not self.pending:
                continue
            try:
                await self._flush_guarded()
                delay = self.backoff[0]
            except Exception as exc:
                self._synced = False
                self._set_degraded(True, f"{type(exc).__name__}: {exc}"[:500])
                self._log.error(
                    "flush.failed",
                    error=repr(exc)[:500],
                    retry_in=delay,
                    kept=f"journal keeps every row after {dict(self.flushed)}",
                )
                await anyio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    async def wait_flushed(self, seq: int | None = None, timeout: float = 30.0) -> None:
        """Wait until every journal row up to ``seq`` (default: everything committed now) is in ArcticDB."""
        target = self.journal.committed_seq if seq is None else seq
        with anyio.fail_after(timeout):
            while not (self._seen_committed >= target and not self._degraded and self._synced):
                progress = self._progress
                self._wake.set()
                with anyio.move_on_after(min(self.interval, 0.05) if math.isfinite(self.interval) else 0.05):
                    await progress.wait()
