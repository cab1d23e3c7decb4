"""Snapshots of the books to ArcticDB: ``{account}/strategy_{id}`` and ``{account}/portfolio``.

``strategy_{id}`` is the seed's per-strategy table (positions per contract and explicit equity over time);
``portfolio`` holds every strategy's and Discretionary's positions valued at market, in their currency and
the base currency. Both are written in batches — one append per symbol per snapshot — by this engine, their
one writer: at start-up, every ``interval`` (hourly by default), after each reconciliation, and at shutdown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

import pandas as pd
import structlog

from mats.accounting import market_value, unrealized_pnl
from mats.model import Position
from mats.store.arctic import ArcticStore

log = structlog.get_logger("mats.snapshots")

PORTFOLIO = "portfolio"


def strategy_symbol(strategy_id: str) -> str:
    return f"strategy_{strategy_id}"


def portfolio_rows(
    positions: Iterable[Position],
    prices: Mapping[int, float],
    to_base: Callable[[str], float],
    at: datetime,
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
) -> int:
    """Append one snapshot to ``portfolio`` and to each strategy's table; returns rows written."""
    at = at or datetime.now(UTC)
    frame = portfolio_rows(positions, prices, to_base, at)
    written = 0
    if not frame.empty:
        await store.append(account, PORTFOLIO, frame)
        written += len(frame)
    for strategy_id, rows in frame.groupby("strategy_id") if not frame.empty else []:
        table = rows[["con_id", "symbol", "qty", "avg_cost", "realized_pnl", "currency"]].copy()
        equity = explicit_equity.get(str(strategy_id))
        table["equity"] = math.nan if equity is None else float(equity)
        await store.append(account, strategy_symbol(str(strategy_id)), table)
        written += len(table)
    log.debug("snapshots.written", rows=written)
    return written
