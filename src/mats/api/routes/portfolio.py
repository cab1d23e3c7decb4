"""``GET /api/portfolio`` (the pinned shape), fills and orders: read from the actors' memory, so a
read never waits on storage or delays trading. The portfolio and fills, which dashboards poll, are served
as pre-encoded bytes (``mats.api.encoded``): rebuilt after an event or 50 ms, not per request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import MediaType, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.types import Scope

from mats.accounting import market_value, unrealized_pnl
from mats.api.context import ApiContext, Ctx
from mats.api.encoded import read_key
from mats.api.routes.strategies import trading_of
from mats.equity import EquityPoint
from mats.messages import CancelOrder
from mats.model import DISCRETIONARY, OrderStatus


class PositionOut(msgspec.Struct, frozen=True):
    strategy_id: str
    symbol: str
    con_id: int
    qty: float
    avg_cost: float
    market_price: float | None
    market_value: float | None
    unrealized_pnl: float | None
    realized_pnl: float
    currency: str
    market_value_base: float | None = None  # in the account's base currency; None until IB quotes the rate


class PortfolioOut(msgspec.Struct, frozen=True):
    account: str
    base_currency: str
    total_equity: float
    as_of: datetime
    positions: list[PositionOut]
    reconciliation: list[dict[str, Any]]


class FillOut(msgspec.Struct, frozen=True):
    exec_id: str
    time: datetime
    strategy_id: str
    order_ref: str
    symbol: str
    con_id: int
    side: str
    qty: float
    price: float
    commission: float | None
    currency: str


class OrderOut(msgspec.Struct, frozen=True):
    order_ref: str
    strategy_id: str
    symbol: str
    state: str
    qty: float
    filled: float
    remaining: float
    avg_fill_price: float
    perm_id: int | None
    reason: str
    at: datetime | None


def _encoded(body: bytes) -> Response[Any]:
    """Bytes already encoded from the route's declared type (which the OpenAPI schema shows)."""
    return Response(body, media_type=MediaType.JSON)


@get("/api/portfolio", sync_to_thread=False)
def read_portfolio(ctx: Ctx, scope: Scope) -> Response[PortfolioOut]:
    return _encoded(ctx.reads.get(read_key(scope), lambda: _portfolio(ctx)))


def _portfolio(ctx: ApiContext) -> PortfolioOut:
    trading = trading_of(ctx)
    portfolio, broker = trading.portfolio, trading.broker
    hub = ctx.engine.hub
    valuation = trading.valuation
    prices = valuation.market_prices() if valuation is not None else {}
    positions = []
    if portfolio is not None:
        for p in portfolio.positions():
            if p.qty == 0 and p.realized_pnl == 0:
                continue
            price = prices.get(p.con_id)
            value = market_value(p, price) if price is not None else None
            try:
                value_base = None
                if value is not None and valuation is not None:
                    value_base = value * valuation.to_base(p.currency)
            except LookupError:
                value_base = None
            positions.append(
                PositionOut(
                    strategy_id=p.strategy_id,
                    symbol=p.symbol,
                    con_id=p.con_id,
                    qty=p.qty,
                    avg_cost=p.avg_cost,
                    market_price=price,
                    market_value=value,
                    unrealized_pnl=unrealized_pnl(p, price) if price is not None else None,
                    realized_pnl=p.realized_pnl,
                    currency=p.currency,
                    market_value_base=value_base,
                )
            )
    positions.sort(key=lambda p: (p.strategy_id == DISCRETIONARY, p.strategy_id, p.symbol))
    account = ctx.settings.ib.account
    if not account and hub is not None and hub.engine.ib is not None:
        account = next(iter(hub.engine.ib.managedAccounts()), "")
    return PortfolioOut(
        account=account,
        base_currency=ctx.settings.base_currency,
        total_equity=broker.total_equity() if broker is not None else 0.0,
        as_of=datetime.now(UTC),
        positions=positions,
        reconciliation=[msgspec.to_builtins(row) for row in trading.last_reconciliation],
    )


class EquityCurve(msgspec.Struct, frozen=True):
    strategy_id: str | None
    base_currency: str
    daily_pnl: float
    points: list[EquityPoint]


@get("/api/portfolio/equity", sync_to_thread=False)
def read_equity(ctx: Ctx, strategy_id: FromQuery[str | None] = None) -> EquityCurve:
    """The account's equity curve, or a strategy's PnL curve, sampled in memory since start."""
    tracker = trading_of(ctx).equity
    if tracker is None:
        return EquityCurve(strategy_id, ctx.settings.base_currency, 0.0, [])
    points = list(tracker.account) if strategy_id is None else list(tracker.strategies.get(strategy_id, ()))
    return EquityCurve(strategy_id, ctx.settings.base_currency, tracker.daily_pnl, points)


@get("/api/fills", sync_to_thread=False)
def read_fills(
    ctx: Ctx, scope: Scope, strategy_id: FromQuery[str | None] = None, limit: FromQuery[int] = 500
) -> Response[list[FillOut]]:
    return _encoded(ctx.reads.get(read_key(scope), lambda: _fills(ctx, strategy_id, limit)))


def _fills(ctx: ApiContext, strategy_id: str | None, limit: int) -> list[FillOut]:
    portfolio = trading_of(ctx).portfolio
    fills = [] if portfolio is None else portfolio.recent_fills(max(limit, 0), strategy_id)
    return [
        FillOut(
            f.exec_id,
            f.exec_time,
            f.strategy_id,
            f.order_ref,
            f.symbol,
            f.con_id,
            str(f.side),
            f.qty,
            f.price,
            f.commission,
            f.currency,
        )
        for f in fills
    ]  # fmt: skip  (newest first, as a blotter reads)


@get("/api/orders", sync_to_thread=False)
def read_orders(
    ctx: Ctx,
    strategy_id: FromQuery[str | None] = None,
    open_only: FromQuery[bool] = False,
    limit: FromQuery[int] = 1000,
) -> list[OrderOut]:
    """Newest first; the day's older orders are in ArcticDB (``{account}/orders``)."""
    trades = trading_of(ctx).trades
    statuses: list[OrderStatus] = []
    for record in reversed(trades.orders.values()) if trades is not None else ():
        if len(statuses) >= max(limit, 0):
            break
        status = record.status
        if (strategy_id is None or status.strategy_id == strategy_id) and not (
            open_only and status.state.is_done
        ):
            statuses.append(status)
    return [
        OrderOut(s.order_ref, s.strategy_id, s.symbol, s.state.value, s.qty, s.filled, s.remaining,
                 s.avg_fill_price, s.perm_id, s.reason, s.at)
        for s in statuses
    ]  # fmt: skip


@post("/api/orders/{order_ref:str}/cancel")
async def cancel_order(ctx: Ctx, order_ref: FromPath[str]) -> OrderOut:
    trades = trading_of(ctx).trades
    if trades is None or order_ref not in trades.orders:
        raise NotFoundException(f"unknown order {order_ref!r}")
    reply = await trades.ask(CancelOrder(order_ref=order_ref), timeout=10)
    s = reply.status
    if not reply.accepted:
        raise HTTPException(
            status_code=409, detail=s.reason or f"order {order_ref} is already {s.state.value}"
        )
    return OrderOut(s.order_ref, s.strategy_id, s.symbol, s.state.value, s.qty, s.filled, s.remaining,
                    s.avg_fill_price, s.perm_id, s.reason, s.at)  # fmt: skip
