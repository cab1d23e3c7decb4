"""Fills as IB reports them, shared by the tests and the crash child (imported as a plain module)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mats.model import ConId, ExecId, Fill, Side, StrategyId

T0 = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def make_fill(
    n: int,
    revision: int = 1,
    *,
    price: float = 190.0,
    qty: float = 10.0,
    strategy: str = "sma_aapl",
    side: Side = Side.BUY,
    commission: float | None = None,
) -> Fill:
    """The n-th execution of the day, as IB would report it (execId base + revision)."""
    return Fill(
        exec_id=ExecId(f"0000e0d5.{n:08d}.{revision:02d}"),
        order_ref=f"mats:{strategy}:01JCORDER{n:08d}",
        strategy_id=StrategyId(strategy),
        con_id=ConId(265598),
        symbol="AAPL",
        side=side,
        qty=qty,
        price=price,
        exec_time=T0 + timedelta(seconds=n),
        perm_id=900_000 + n,
        commission=commission,
    )
