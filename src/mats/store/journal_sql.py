"""The journal's SQLite side: schema, read queries, time conversions (so journal.py reads as behaviour)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import msgspec
import pandas as pd

from mats.model import Booking, ConId, ExecId, Fill, OrderRef, OrderState, OrderStatus, Side, StrategyId
from mats.store import schemas

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- {account}/fills in journal order: fill, correction and commission rows (append-only)
CREATE TABLE IF NOT EXISTS fill_log (
    seq INTEGER PRIMARY KEY,
    recorded_at INTEGER NOT NULL,
    exec_id TEXT NOT NULL,
    base_exec_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    kind TEXT NOT NULL,
    exec_time INTEGER,
    perm_id INTEGER,
    order_ref TEXT,
    strategy_id TEXT,
    con_id INTEGER,
    symbol TEXT,
    side TEXT,
    qty REAL,
    price REAL,
    commission REAL,
    currency TEXT,
    multiplier REAL,
    realized_pnl REAL
);

-- the repeat check looks up an execution here once the in-memory map of revisions is full
CREATE INDEX IF NOT EXISTS fill_log_base_exec_id ON fill_log (base_exec_id);

-- the latest commission report of each execId
CREATE TABLE IF NOT EXISTS commissions (
    exec_id TEXT PRIMARY KEY,
    commission REAL NOT NULL,
    currency TEXT NOT NULL,
    realized_pnl REAL,
    seq INTEGER NOT NULL
);

-- {account}/orders in journal order
CREATE TABLE IF NOT EXISTS order_log (
    seq INTEGER PRIMARY KEY,
    recorded_at INTEGER NOT NULL,
    order_ref TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    perm_id INTEGER,
    strategy_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    status TEXT NOT NULL,
    qty REAL NOT NULL,
    filled REAL NOT NULL,
    remaining REAL NOT NULL,
    avg_fill_price REAL NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER
);

-- the latest event of each orderRef (to ignore repeats)
CREATE TABLE IF NOT EXISTS orders (
    order_ref TEXT PRIMARY KEY,
    state_key TEXT NOT NULL,
    seq INTEGER NOT NULL
);

-- operator bookings: who attributed a break to whom, and why (never silent)
CREATE TABLE IF NOT EXISTS bookings (
    seq INTEGER PRIMARY KEY,
    recorded_at INTEGER NOT NULL,
    booking_id TEXT NOT NULL UNIQUE,
    booking TEXT NOT NULL
);

-- how far each stream has reached ArcticDB (a hint; ArcticDB's symbol metadata is the authority)
CREATE TABLE IF NOT EXISTS marks (stream TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


def to_ns(t: datetime) -> int:
    """Nanoseconds since the epoch; a naive datetime is taken as UTC (MATS is UTC inside)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1_000
    )


def rows_since(
    conn: sqlite3.Connection, table: str, schema: schemas.TableSchema, seq: int, limit: int
) -> pd.DataFrame:
    """Rows of one log table after ``seq``, in journal order, as a typed frame."""
    cur = conn.execute(
        f"SELECT recorded_at, {', '.join(schema.names)} FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?",
        (seq, limit),
    )
    rows = cur.fetchall()
    return schema.frame([r[0] for r in rows], [r[1:] for r in rows])


def current_fills(conn: sqlite3.Connection) -> list[Fill]:
    """The winning revision of each execution, commission joined, in journal order."""
    cur = conn.execute(
        "SELECT f.exec_id, f.order_ref, f.strategy_id, f.con_id, f.symbol, f.side, f.qty, f.price,"
        " f.exec_time, f.perm_id, COALESCE(c.commission, f.commission), f.currency, f.multiplier"
        " FROM fill_log f LEFT JOIN commissions c ON c.exec_id = f.exec_id"
        " WHERE f.seq IN (SELECT MAX(seq) FROM fill_log WHERE kind != ? GROUP BY base_exec_id)"
        " ORDER BY f.seq",
        (schemas.KIND_COMMISSION,),
    )
    return [
        Fill(
            exec_id=ExecId(r[0]),
            order_ref=r[1],
            strategy_id=StrategyId(r[2]),
            con_id=ConId(r[3]),
            symbol=r[4],
            side=Side(r[5]),
            qty=r[6],
            price=r[7],
            exec_time=from_ns(r[8]),
            perm_id=r[9] or None,
            commission=r[10],
            currency=r[11],
            multiplier=r[12],
        )
        for r in cur.fetchall()
    ]


def current_orders(conn: sqlite3.Connection) -> list[OrderStatus]:
    """The latest event of each orderRef, in journal order."""
    cur = conn.execute(
        "SELECT l.order_ref, l.strategy_id, l.symbol, l.status, l.qty, l.filled, l.remaining,"
        " l.avg_fill_price, l.perm_id, l.reason, l.at"
        " FROM orders o JOIN order_log l ON l.seq = o.seq ORDER BY o.seq"
    )
    return [
        OrderStatus(
            order_ref=OrderRef(r[0]),
            strategy_id=StrategyId(r[1]),
            symbol=r[2],
            state=OrderState(r[3]),
            qty=r[4],
            filled=r[5],
            remaining=r[6],
            avg_fill_price=r[7],
            perm_id=r[8] or None,
            reason=r[9],
            at=from_ns(r[10]) if r[10] is not None else None,
        )
        for r in cur.fetchall()
    ]


def get_mark(conn: sqlite3.Connection, stream: str) -> int:
    row = conn.execute("SELECT seq FROM marks WHERE stream=?", (stream,)).fetchone()
    return int(row[0]) if row else 0


def current_bookings(conn: sqlite3.Connection) -> list[Booking]:
    rows = conn.execute("SELECT booking FROM bookings ORDER BY seq").fetchall()
    return [msgspec.json.decode(row[0], type=Booking) for row in rows]
