"""Snapshots of the books to ArcticDB: ``{account}/strategy_{id}`` and ``{account}/portfolio``.

``strategy_{id}`` is the seed's per-strategy table (positions per contract and explicit equity over time);
``portfolio`` holds every strategy's and Discretionary's positions valued at market, in their currency and
the base currency. Both are written in batches — one append per symbol per snapshot — by this engine, their
one writer: at start-up, after each reconciliation, every hour, at the daily reset (the end-of-day
snapshot: ``daily_pnl_reset`` in ``daily_pnl_tz``, 17:00 New York by default) and at shutdown. Every row
carries its ``kind`` so a reader can pick the end-of-day rows out of the rest.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pandas as pd
import structlog

from mats.accounting import last_reset, market_value, unrealized_pnl
from mats.model import Position
from mats.store.arctic import ArcticStore

log = structlog.get_logger("mats.snapshots")

PORTFOLIO = "portfolio"

SnapshotKind = Literal["startup", "reconcile", "hourly", "eod", "shutdown", "on_demand"]


def strategy_symbol(strategy_id: str) -> str:
    return f"strategy_{strategy_id}"


def portfolio_rows(
    positions: Iterable[Position],
    prices: Mapping[int, float],
    to_base: Callable[[str], float],
    at: datetime,
    kind: SnapshotKind = "on_demand",
) -> pd.DataFrame:
    """One row per (strategy, contract) held or with realized PnL, valued at ``prices``."""
    rows = []
    for p in positions:
        if p.qty == 0 and p.realized_pnl == 0:
            continue
        price = prices.get(p.con_id, math.nan)
        value = market_value(p, price)
        unrealized = unrealized_pnl(p, price) if p.qty else 0.0
        try:
            rate = to_base(p.currency)
        except LookupError:
            rate = math.nan  # no quote yet: the row says so rather than mixing currencies
        rows.append(
            {
                "strategy_id": p.strategy_id,
                "con_id": int(p.con_id),
                "symbol": p.symbol,
                "qty": float(p.qty),
                "avg_cost": float(p.avg_cost),
                "market_price": float(price),
                "market_value": float(value),
                "unrealized_pnl": float(unrealized),
                "realized_pnl": float(p.realized_pnl),
                "currency": p.currency,
                "value_base": float(value * rate),
                "kind": kind,
            }
        )
    index = pd.DatetimeIndex([at] * len(rows), name="time")
    return pd.DataFrame(rows, index=index)


async def write_snapshots(
    store: ArcticStore,
    account: str,
    positions: list[Position],
    prices: Mapping[int, float],
    to_base: Callable[[str], float],
    explicit_equity: Mapping[str, float | None],
    *,
    at: datetime | None = None,
    kind: SnapshotKind = "on_demand",
) -> int:
    """Append one snapshot to ``portfolio`` and to each strategy's table; returns rows written."""
    at = at or datetime.now(UTC)
    frame = portfolio_rows(positions, prices, to_base, at, kind)
    written = 0
    if not frame.empty:
        await store.append(account, PORTFOLIO, frame)
        written += len(frame)
    for strategy_id, rows in frame.groupby("strategy_id") if not frame.empty else []:
        table = rows[["con_id", "symbol", "qty", "avg_cost", "realized_pnl", "currency", "kind"]].copy()
        equity = explicit_equity.get(str(strategy_id))
        table["equity"] = math.nan if equity is None else float(equity)
        await store.append(account, strategy_symbol(str(strategy_id)), table)
        written += len(table)
    log.debug("snapshots.written", rows=written, kind=kind)
    return written


def next_reset(now: datetime, reset: time, tz: str) -> datetime:
    """The first daily reset strictly after ``now`` (tz-aware), in UTC; DST-safe (wall-clock ``reset``)."""
    local_date = last_reset(now, reset, tz).date() + timedelta(days=1)
    return datetime.combine(local_date, reset, tzinfo=ZoneInfo(tz)).astimezone(UTC)


Take = Callable[[SnapshotKind], Awaitable[object]]


class SnapshotSchedule:
    """When the hourly and end-of-day snapshots are due, from a clock that tests inject.

    ``tick(now)`` takes what is due at ``now``: an ``eod`` snapshot once each time the daily reset is
    crossed, an ``hourly`` one every ``interval`` seconds. ``run`` calls ``tick`` on the wall clock, waking at
    most every ``max_wait`` seconds so a clock change or a suspended machine cannot push 17:00 back. The
    schedule starts at the last reset before it was created: a restart after the reset does not take a
    late end-of-day snapshot (its start-up snapshot is the first of the new day).
    """

    def __init__(
        self,
        take: Take,
        *,
        reset: str = "17:00",
        tz: str = "America/New_York",
        interval: float = 3600.0,
        max_wait: float = 60.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._take = take
        self.reset = time.fromisoformat(reset)
        self.tz = tz
        self.interval = timedelta(seconds=interval)
        self.max_wait = max_wait
        self._now = now
        started = now()
        self.next_eod = next_reset(started, self.reset, tz)
        self.next_hourly = started + self.interval

    def due(self, now: datetime) -> list[SnapshotKind]:
        """The snapshots due at ``now``, in the order to take them; advances the schedule."""
        kinds: list[SnapshotKind] = []
        if now >= self.next_eod:
            kinds.append("eod")
            self.next_eod = next_reset(now, self.reset, self.tz)
        if now >= self.next_hourly:
            kinds.append("hourly")
            self.next_hourly = now + self.interval
        return kinds

    async def tick(self, now: datetime | None = None) -> list[SnapshotKind]:
        """Take every snapshot due at ``now`` (default: the injected clock); returns their kinds.

        Rows are stamped when they are written (a symbol's index only grows), not with ``now``."""
        kinds = self.due(now or self._now())
        for kind in kinds:
            await self._take(kind)
        return kinds

    def seconds_to_next(self, now: datetime) -> float:
        upcoming = min(self.next_eod, self.next_hourly)
        return min(self.max_wait, max(0.0, (upcoming - now).total_seconds()))

    async def run(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self.seconds_to_next(self._now()))
