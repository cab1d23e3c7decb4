"""The journal: every fill, commission and order event is committed to SQLite before anyone is told about it.

ArcticDB is not transactional and single-row appends are slow, so the journal is the durable first stop
(DESIGN section 4). It runs on its own thread with its own connection: a long ArcticDB write never delays a
fill's acknowledgement. Callers await a future that resolves only after COMMIT. Everything queued while a
commit is in progress goes into the next transaction (group commit), so concurrent awaits share one commit
and, with ``synchronous=FULL``, one fsync.

Rules (DESIGN section 3): fills are keyed by execId = base + revision; a repeat (or an older revision) is
ignored, a higher revision is a correction that supersedes. Commissions are their own records, joined by
execId, and may arrive before or after their fill. Order events are keyed by orderRef; an event identical to
the previous one for that orderRef is ignored. Each stored row gets a journal sequence, one counter for the
whole journal, strictly increasing, and a ``recorded_at`` time that increases with it."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import anyio
import msgspec
import pandas as pd
import structlog

from mats.kept import Kept
from mats.model import (
    ORDER_REF_PREFIX,
    Booking,
    CommissionReport,
    Fill,
    OrderStatus,
    split_exec_id,
)
from mats.store import journal_sql, schemas
from mats.store.committer import Answer, GroupCommitter, Op
from mats.store.crashpoints import AFTER_COMMIT, crash_point
from mats.store.intents import IntentLog
from mats.store.journal_sql import SCHEMA_SQL, to_ns

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: Executions whose current revision the repeat check keeps in memory (newest first in, oldest out); older
#: ones are looked up in SQLite (indexed), so a repeat is caught however old it is. ~150 B each.
KEEP_REVISIONS = 10_000

_INSERT_FILL = "INSERT INTO fill_log VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"


class Durability(StrEnum):
    NORMAL = "NORMAL"  # WAL + synchronous=NORMAL: a committed row survives a crash of the process
    FULL = "FULL"  # WAL + synchronous=FULL: fsync per (group) commit, survives power loss


class FillRecorded(msgspec.Struct, frozen=True):
    seq: int
    exec_id: str
    kind: str  # fill | correction
    recorded_at: int  # ns since the epoch, UTC


class CommissionRecorded(msgspec.Struct, frozen=True):
    seq: int
    exec_id: str
    recorded_at: int


class OrderEventRecorded(msgspec.Struct, frozen=True):
    seq: int
    order_ref: str
    recorded_at: int


class JournalError(RuntimeError):
    pass


class Journal:
    """SQLite WAL journal on a dedicated thread; ``await record_*`` returns after the row is committed."""

    def __init__(
        self, path: str | Path, *, durability: Durability = Durability.NORMAL, max_group: int = 50_000
    ) -> None:
        self.path = Path(path)
        self.durability = Durability(durability)
        self.journal_id = ""
        self.committed_seq = 0
        self.commits = 0  # transactions committed (group commit: far fewer than the writes acknowledged)
        self._worker = GroupCommitter(
            "mats-journal",
            self._execute,
            after=lambda: self._seq,
            on_answered=self._committed,
            max_group=max_group,
        )
        self._listeners: list[Callable[[int], None]] = []
        self._log = log.bind(journal=str(self.path))
        # state owned by the journal thread
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._read_limiter = anyio.CapacityLimiter(1)
        self._lock_fd: int | None = None
        self._seq = 0
        self._last_ns = 0
        self._revisions: dict[str, int] = {}  # base execId → current revision; newest KEEP_REVISIONS only
        self._revisions_complete = True  # False once some execution is only in SQLite
        self.keep_revisions = KEEP_REVISIONS
        # written by the loop (record_order_intent); folded in by the journal thread on open
        self._intents = IntentLog(f"{self.path}.intents")
        self._closing = False
        self._deferred: list[OrderStatus] = []  # intents whose SQLite row is not queued yet

    # ---- lifecycle --------------------------------------------------------------------------------------

    async def open(self) -> Journal:
        if self._worker.running:
            return self
        self._closing = False
        self._worker.start()
        try:
            self.committed_seq = await self._submit(self._open_db, writes=False)
        except BaseException:
            await self._worker.stop()  # no thread left behind by a refused open
            self._intents.close()
            raise
        self._log.info("journal.opened", durability=self.durability.value, last_seq=self.committed_seq)
        return self

    async def close(self) -> None:
        if not self._worker.running:
            return
        self._closing = True  # no new intent from here on: the intent log is closed on the loop below
        async with self._read_limiter:  # no read in flight on the connection we close
            await self._submit(self._close_db, writes=False)
        await self._worker.stop()
        self._intents.close()
        self._log.info("journal.closed", last_seq=self.committed_seq)

    async def __aenter__(self) -> Journal:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def kept(self) -> list[Kept]:
        return [Kept("fill_revisions", len(self._revisions), self.keep_revisions)]

    def add_commit_listener(self, listener: Callable[[int], None]) -> None:
        """Called on the loop with the highest committed sequence after each commit that stored rows."""
        self._listeners.append(listener)

    # ---- writes -----------------------------------------------------------------------------------------

    def record_fill(self, fill: Fill) -> asyncio.Future[FillRecorded | None]:
        """Commit one fill: ``await`` it for the FillRecorded, or None for a repeat (or an older revision).

        A plain future rather than a coroutine, so thousands of concurrent awaits cost no task each; they all
        land in the same group commit.
        """
        return self._submit(self._insert_fill, fill)

    async def record_fills(self, fills: Sequence[Fill]) -> list[FillRecorded | None]:
        """Commit a group of fills in one transaction; one result per fill, None for a repeat."""
        result: list[FillRecorded | None] = await self._submit(self._insert_fills, list(fills))
        return result

    async def record_commission(self, report: CommissionReport) -> CommissionRecorded | None:
        """Commit a commission report; None when the same report (execId and values) is already stored."""
        result: CommissionRecorded | None = await self._submit(self._insert_commission, report)
        return result

    async def record_order_event(self, status: OrderStatus) -> OrderEventRecorded | None:
        """Commit an order event; None when it repeats the previous event of the same orderRef."""
        result: OrderEventRecorded | None = await self._submit(self._insert_order_event, status)
        return result

    async def record_order_intent(self, status: OrderStatus) -> None:
        """A new order, durable against a process crash when this returns, without waiting for a commit.

        The event is appended to the intent log on the loop thread (microseconds) and its SQLite row follows
        through the group commit, ahead of every later event (the journal thread runs them in order). A crash
        before that commit is repaired on the next open, which folds the intent log in. With
        ``Durability.FULL`` (survive power loss) this awaits the fsynced commit instead.
        """
        if self.durability is Durability.FULL:
            await self.record_order_event(status)
            return
        if not self._worker.running or self._closing:
            raise JournalError(f"journal {self.path} is not open; nothing was recorded")
        self._intents.append(status)
        # The SQLite row is queued a moment later, after the caller has sent the order: waking the journal
        # thread now lets the kernel run it in place of the loop thread, which cost milliseconds at p99 on a
        # busy box. Any other write queued meanwhile is queued behind it (_submit), so the order holds.
        if not self._deferred:
            asyncio.get_running_loop().call_soon(self._submit_deferred)
        self._deferred.append(status)

    def _submit_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        if not self._worker.running:
            return  # closed meanwhile: the intents stay in their file and the next open folds them in
        for status in deferred:
            future = self._worker.submit(self._insert_order_event, status, writes=True)
            future.add_done_callback(self._intent_committed)

    def _intent_committed(self, future: asyncio.Future[Any]) -> None:
        failed = future.cancelled() or future.exception() is not None
        if failed:
            self._log.error(
                "journal.intent_not_committed",
                error=repr(None if future.cancelled() else future.exception()),
                kept=str(self._intents.path),
            )
        self._intents.committed(not failed)

    async def record_booking(self, booking: Booking) -> int:
        """Commit an operator booking (with who and why); returns its journal sequence."""
        result: int = await self._submit(self._insert_booking, booking)
        return result

    async def current_bookings(self) -> list[Booking]:
        result: list[Booking] = await self._read(journal_sql.current_bookings)
        return result

    async def mark_flushed(self, stream: str, seq: int) -> None:
        """Remember how far ``stream`` has reached ArcticDB (a hint; ArcticDB's metadata is the authority)."""
        await self._submit(self._set_mark, stream, seq)

    # ---- reads ------------------------------------------------------------------------------------------

    # Reads use a second, read-only connection on their own thread: in WAL mode they see every committed
    # row without ever waiting for (or delaying) the writer thread's commits.

    async def flushed_mark(self, stream: str) -> int:
        result: int = await self._read(journal_sql.get_mark, stream)
        return result

    async def fills_since(self, seq: int, limit: int = 1_000_000) -> pd.DataFrame:
        """Rows of ``{account}/fills`` with a sequence above ``seq``, in journal order, as a typed frame."""
        result: pd.DataFrame = await self._read(journal_sql.rows_since, "fill_log", schemas.FILLS, seq, limit)
        return result

    async def orders_since(self, seq: int, limit: int = 1_000_000) -> pd.DataFrame:
        result: pd.DataFrame = await self._read(
            journal_sql.rows_since, "order_log", schemas.ORDERS, seq, limit
        )
        return result

    async def current_fills(self) -> list[Fill]:
        """One Fill per execution (latest revision, commission joined), in journal order: start-up replay."""
        result: list[Fill] = await self._read(journal_sql.current_fills)
        return result

    async def current_orders(self) -> list[OrderStatus]:
        """The latest event of every orderRef, in journal order, with every event recorded before this call.

        Read on the journal thread behind the writes queued ahead of it: a new order's intent is durable
        (the intent log) before its SQLite row commits, and a read on the reader connection could miss an
        order already at IB (found by tests/faults/test_random_schedules.py)."""
        result: list[OrderStatus] = await self._submit(
            lambda: journal_sql.current_orders(self._db()), writes=False
        )
        return result

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self._reader
        if conn is None:
            raise JournalError(f"journal {self.path} is not open")
        return await anyio.to_thread.run_sync(lambda: fn(conn, *args), limiter=self._read_limiter)

    # ---- plumbing ---------------------------------------------------------------------------------------

    def _submit(self, fn: Callable[..., Any], *args: Any, writes: bool = True) -> asyncio.Future[Any]:
        if not self._worker.running:
            raise JournalError(f"journal {self.path} is not open; nothing was recorded")
        if self._deferred:
            self._submit_deferred()  # an order's first event stays ahead of everything queued after it
        return self._worker.submit(fn, *args, writes=writes)

    def _execute(self, group: list[Op]) -> list[Answer]:
        answers: list[Answer] = []
        writes = [op for op in group if op.writes]
        reads = [op for op in group if not op.writes]
        if writes:
            conn = self._conn
            if conn is None:
                err = JournalError(f"journal {self.path} is closed; nothing was recorded")
                answers.extend((op, None, err) for op in writes)
            else:
                answers.extend(self._write_group(conn, writes))
        for op in reads:
            try:
                answers.append((op, op.fn(*op.args), None))
            except BaseException as exc:  # answered to the caller, never kills the thread
                answers.append((op, None, exc))
        return answers

    def _write_group(self, conn: sqlite3.Connection, ops: list[Op]) -> list[Answer]:
        """One transaction for the whole group. Runs of fills go in with one executemany (the hot path);
        other writes get a savepoint each, so one bad write is refused alone."""
        done: list[Answer] = []
        seq_before = self._seq
        fill_rows: list[tuple[Any, ...]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                single = op.fn == self._insert_fill
                if single or op.fn == self._insert_fills:
                    try:
                        rows, results = self._prepare_fills([op.args[0]] if single else op.args[0])
                        result: Any = results[0] if single else results
                    except Exception as exc:  # a malformed fill: refuse this call, keep the rest of the group
                        self._log.error("journal.rejected", error=repr(exc), op="record_fills")
                        done.append((op, None, exc))
                        continue
                    fill_rows.extend(rows)
                    done.append((op, result, None))
                    continue
                if fill_rows:
                    conn.executemany(_INSERT_FILL, fill_rows)
                    fill_rows = []
                conn.execute("SAVEPOINT op")
                try:
                    done.append((op, op.fn(conn, *op.args), None))
                    conn.execute("RELEASE op")
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    self._log.error("journal.rejected", error=repr(exc), op=op.fn.__name__)
                    done.append((op, None, exc))
            if fill_rows:
                conn.executemany(_INSERT_FILL, fill_rows)
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._seq = seq_before
            self._load_revisions()
            self._log.error("journal.commit_failed", error=repr(exc), ops=len(ops))
            err = JournalError(
                f"journal commit failed ({exc!r}); none of these {len(ops)} writes were recorded"
            )
            return [(op, None, err) for op in ops]
        crash_point(AFTER_COMMIT)
        return done

    def _committed(self, committed: int) -> None:
        """On the loop, after a group's callers were answered: publish the new committed sequence."""
        if committed > self.committed_seq:
            self.committed_seq = committed
            for listener in self._listeners:
                listener(committed)

    # ---- journal-thread side ----------------------------------------------------------------------------

    def _open_db(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(f"{self.path}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise JournalError(
                f"journal {self.path} is already open (another engine or a second Journal in this process); "
                "refusing a second writer"
            ) from None
        self._lock_fd = lock_fd
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.durability.value}")
            conn.executescript(SCHEMA_SQL)
            row = conn.execute("SELECT value FROM meta WHERE key='journal_id'").fetchone()
            if row is None:
                self.journal_id = uuid.uuid4().hex
                conn.execute("INSERT INTO meta(key, value) VALUES ('journal_id', ?)", (self.journal_id,))
            else:
                self.journal_id = row[0]
            lasts = [
                conn.execute(f"SELECT seq, recorded_at FROM {t} ORDER BY seq DESC LIMIT 1").fetchone()
                or (0, 0)
                for t in ("fill_log", "order_log")
            ]  # recorded_at rises with seq, so the last row of each log holds both maxima
            self._seq = max(int(r[0]) for r in lasts)
            self._last_ns = max(int(r[1]) for r in lasts)
            self._conn = conn
            self._load_revisions()
            self._fold_intents(conn)
            reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            reader.execute("PRAGMA query_only=1")
            self._reader = reader
        except BaseException:
            self._close_db()
            raise
        return self._seq

    def _fold_intents(self, conn: sqlite3.Connection) -> None:
        """Orders whose intent was written but whose SQLite row never committed (a crash in between) are
        journaled now, as they were sent; then the intent log starts empty."""
        intents = self._intents.read()
        folded = 0
        if intents:
            known = {row[0] for row in conn.execute("SELECT order_ref FROM orders")}
            conn.execute("BEGIN IMMEDIATE")
            for status in intents:
                if status.order_ref not in known and self._insert_order_event(conn, status) is not None:
                    known.add(status.order_ref)
                    folded += 1
            conn.execute("COMMIT")
        self._intents.open()
        if folded:
            self._log.warning("journal.intents_folded", orders=folded, read=len(intents))

    def _load_revisions(self) -> None:
        """The current revision of the newest ``keep_revisions`` executions, kept in memory: the repeat check
        of a live or re-sent execution costs no query; an older one is looked up (``_stored_revision``)."""
        cur = self._db().execute(
            "SELECT base_exec_id, MAX(revision) FROM fill_log WHERE kind != ? GROUP BY base_exec_id"
            " ORDER BY MAX(seq) DESC LIMIT ?",
            (schemas.KIND_COMMISSION, self.keep_revisions + 1),
        )
        rows = cur.fetchall()
        self._revisions_complete = len(rows) <= self.keep_revisions
        self._revisions = dict(reversed(rows[: self.keep_revisions]))

    def _known_revision(self, base: str) -> int | None:
        """The current revision of an execution, or None if it was never recorded."""
        revision = self._revisions.get(base)
        if revision is not None or self._revisions_complete:
            return revision
        row = (
            self._db()
            .execute(
                "SELECT MAX(revision) FROM fill_log WHERE base_exec_id = ? AND kind != ?",
                (base, schemas.KIND_COMMISSION),
            )
            .fetchone()
        )
        return None if row is None or row[0] is None else int(row[0])

    def _remember_revisions(self, seen: dict[str, int]) -> None:
        self._revisions.update(seen)
        while len(self._revisions) > self.keep_revisions:
            del self._revisions[next(iter(self._revisions))]
            self._revisions_complete = False

    def _close_db(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _next(self) -> tuple[int, int]:
        self._seq += 1
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        return self._seq, self._last_ns

    def _insert_fills(self, conn: sqlite3.Connection, fills: list[Fill]) -> list[FillRecorded | None]:
        rows, result = self._prepare_fills(fills)
        conn.executemany(_INSERT_FILL, rows)
        return result

    def _insert_fill(self, conn: sqlite3.Connection, fill: Fill) -> FillRecorded | None:
        return self._insert_fills(conn, [fill])[0]

    def _prepare_fills(self, fills: list[Fill]) -> tuple[list[tuple[Any, ...]], list[FillRecorded | None]]:
        """Rows to insert and the answers; the repeat check uses the in-memory revision map."""
        out: list[FillRecorded | None] = []
        rows: list[tuple[Any, ...]] = []
        seen: dict[str, int] = {}  # applied to the revision map only once the whole call is valid
        for fill in fills:
            base, revision = split_exec_id(fill.exec_id)
            prior = seen[base] if base in seen else self._known_revision(base)
            if prior is not None and revision <= prior:
                out.append(None)  # a repeat, or an older revision than the one we hold
                continue
            kind = schemas.KIND_FILL if prior is None else schemas.KIND_CORRECTION
            row = (
                fill.exec_id,
                base,
                revision,
                kind,
                to_ns(fill.exec_time),
                fill.perm_id or 0,
                fill.order_ref,
                fill.strategy_id,
                fill.con_id,
                fill.symbol,
                fill.side.value,
                fill.qty,
                fill.price,
                fill.commission,
                fill.currency,
                fill.multiplier,
                None,
            )  # built before the sequence is taken: a malformed fill raises here and consumes nothing
            seq, now = self._next()
            seen[base] = revision
            rows.append((seq, now, *row))
            out.append(FillRecorded(seq=seq, exec_id=fill.exec_id, kind=kind, recorded_at=now))
        self._remember_revisions(seen)
        return rows, out

    def _insert_commission(
        self, conn: sqlite3.Connection, report: CommissionReport
    ) -> CommissionRecorded | None:
        key = (report.commission, report.currency, report.realized_pnl)
        prior = conn.execute(
            "SELECT commission, currency, realized_pnl FROM commissions WHERE exec_id=?", (report.exec_id,)
        ).fetchone()
        if prior is not None and tuple(prior) == key:
            return None
        base, revision = split_exec_id(report.exec_id)
        seq, now = self._next()
        conn.execute(
            "INSERT INTO fill_log(seq, recorded_at, exec_id, base_exec_id, revision, kind, commission,"
            " currency, realized_pnl) VALUES (?,?,?,?,?,?,?,?,?)",
            (seq, now, report.exec_id, base, revision, schemas.KIND_COMMISSION, *key),
        )
        conn.execute(
            "INSERT INTO commissions(exec_id, commission, currency, realized_pnl, seq) VALUES (?,?,?,?,?) "
            "ON CONFLICT(exec_id) DO UPDATE SET commission=excluded.commission, currency=excluded.currency, "
            "realized_pnl=excluded.realized_pnl, seq=excluded.seq",
            (report.exec_id, *key, seq),
        )
        return CommissionRecorded(seq=seq, exec_id=report.exec_id, recorded_at=now)

    def _insert_order_event(self, conn: sqlite3.Connection, st: OrderStatus) -> OrderEventRecorded | None:
        state_key = repr(
            (st.state.value, st.qty, st.filled, st.remaining, st.avg_fill_price, st.perm_id, st.reason)
        )
        prior = conn.execute("SELECT state_key FROM orders WHERE order_ref=?", (st.order_ref,)).fetchone()
        if prior is not None and prior[0] == state_key:
            return None
        client_order_id = st.order_ref.rpartition(":")[2] if st.order_ref.startswith(ORDER_REF_PREFIX) else ""
        seq, now = self._next()
        conn.execute(
            "INSERT INTO order_log VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                seq,
                now,
                st.order_ref,
                client_order_id,
                st.perm_id or 0,
                st.strategy_id,
                st.symbol,
                st.state.value,
                st.qty,
                st.filled,
                st.remaining,
                st.avg_fill_price,
                st.reason,
                to_ns(st.at) if st.at is not None else None,
            ),
        )
        conn.execute(
            "INSERT INTO orders(order_ref, state_key, seq) VALUES (?,?,?) "
            "ON CONFLICT(order_ref) DO UPDATE SET state_key=excluded.state_key, seq=excluded.seq",
            (st.order_ref, state_key, seq),
        )
        return OrderEventRecorded(seq=seq, order_ref=st.order_ref, recorded_at=now)

    def _insert_booking(self, conn: sqlite3.Connection, booking: Booking) -> int:
        seq, now = self._next()
        conn.execute(
            "INSERT INTO bookings(seq, recorded_at, booking_id, booking) VALUES (?,?,?,?)",
            (seq, now, booking.booking_id, msgspec.json.encode(booking).decode()),
        )
        return seq

    def _set_mark(self, conn: sqlite3.Connection, stream: str, seq: int) -> None:
        conn.execute(
            "INSERT INTO marks(stream, seq) VALUES (?,?)"
            " ON CONFLICT(stream) DO UPDATE SET seq=MAX(seq, excluded.seq)",
            (stream, seq),
        )

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"journal {self.path} is closed")
        return self._conn
