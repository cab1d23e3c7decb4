"""``POST /api/risk/kill-switch`` and reconciliation on demand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import post
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import JSONBody

from mats.actors.strategy import InvalidStrategy
from mats.api.context import Ctx
from mats.api.routes.strategies import trading_of
from mats.controls import PositionsUnknown


class KillSwitchRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    engaged: bool = True
    strategy_id: str | None = None  # None: every strategy, and reqGlobalCancel for the account
    reason: str = ""


class KillSwitchState(msgspec.Struct, frozen=True):
    engaged: bool
    strategy_id: str | None
    reason: str
    at: datetime
    cancelled: list[str]


class Reconciliation(msgspec.Struct, frozen=True):
    as_of: datetime
    reconciliation: list[dict[str, Any]]


class BookingRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    con_id: int
    strategy_id: str  # a registered strategy, or "Discretionary"
    qty: float  # signed
    reason: str
    price: float | None = None  # default: the current average cost, else the last price
    by: str = "operator"


class BookingDone(msgspec.Struct, frozen=True):
    booking: dict[str, Any]
    reconciliation: list[dict[str, Any]]


@post("/api/portfolio/bookings")
async def book(ctx: Ctx, data: JSONBody[BookingRequest]) -> BookingDone:
    trading = trading_of(ctx)
    try:
        booking, rows = await trading.book(
            con_id=data.con_id, strategy_id=data.strategy_id, qty=data.qty, reason=data.reason, by=data.by,
            price=data.price,
        )  # fmt: skip
    except InvalidStrategy as exc:
        raise ValidationException(detail=str(exc)) from None
    return BookingDone(msgspec.to_builtins(booking), [msgspec.to_builtins(r) for r in rows])


@post("/api/risk/kill-switch")
async def kill_switch(ctx: Ctx, data: JSONBody[KillSwitchRequest]) -> KillSwitchState:
    trading = trading_of(ctx)
    if data.strategy_id is not None and data.strategy_id not in trading.specs:
        raise NotFoundException(f"unknown strategy {data.strategy_id!r}")
    cancelled = await trading.kill_switch(
        engaged=data.engaged, strategy_id=data.strategy_id, reason=data.reason
    )
    return KillSwitchState(data.engaged, data.strategy_id, data.reason, datetime.now(UTC), cancelled)


@post("/api/portfolio/reconcile")
async def reconcile_now(ctx: Ctx) -> Reconciliation:
    try:
        rows = await trading_of(ctx).reconcile("on demand (API)")
    except PositionsUnknown as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None  # not now: IB is away
    return Reconciliation(as_of=datetime.now(UTC), reconciliation=[msgspec.to_builtins(r) for r in rows])
