"""``/api/strategies``: register (a class reference inside ``strategies/``), change, start, stop, delete.

Nothing sent here is executed or imported from elsewhere: ``cls`` must name a ``BaseStrategy`` subclass
in the ``strategies`` package, checked before the registration is accepted.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import delete, get, patch, post
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from mats.actors.strategy import InvalidStrategy, strategy_classes
from mats.api.context import ApiContext, Ctx
from mats.model import StrategyRisk, StrategySpec
from mats.trading import LiveTrading
from mats.validation import field_message

T = TypeVar("T")


class StrategyOut(msgspec.Struct, frozen=True):
    strategy_id: str
    cls: str
    symbols: list[Any]
    params: dict[str, Any]
    target_weight: float
    equity: float | None
    bar_size: str
    autostart: bool
    status: str
    client_id: int | None
    reason: str
    risk: StrategyRisk


class StrategyChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What ``PATCH`` may change; absent fields stay as they are. Takes effect at the next start, except
    ``risk``, which the pre-trade checks read from the next order on."""

    symbols: list[str | dict[str, Any]] | None = None
    params: dict[str, Any] | None = None
    target_weight: float | None = None
    equity: float | None = None
    bar_size: str | None = None
    autostart: bool | None = None
    risk: StrategyRisk | None = None  # replaces the whole table; the checks read it at once


def trading_of(ctx: ApiContext) -> LiveTrading:
    trading = ctx.engine.trading
    if trading is None:
        raise HTTPException(
            status_code=409, detail="this engine does not trade (no IB connection configured)"
        )
    return trading


def _out(trading: LiveTrading, strategy_id: str) -> StrategyOut:
    for view in trading.views():
        if view.spec.strategy_id == strategy_id:
            spec = view.spec
            return StrategyOut(
                spec.strategy_id, spec.cls, list(spec.symbols), dict(spec.params), spec.target_weight,
                spec.equity, spec.bar_size, spec.autostart, view.status, view.client_id, view.reason,
                spec.risk,
            )  # fmt: skip
    raise NotFoundException(f"unknown strategy {strategy_id!r}")


class StrategyClassOut(msgspec.Struct, frozen=True):
    cls: str
    doc: str
    params: dict[str, Any]


@get("/api/strategies/classes", sync_to_thread=False)
def list_strategy_classes() -> list[StrategyClassOut]:
    """The classes a strategy can be registered from: those defined in the ``strategies`` package."""
    return [StrategyClassOut(ref, doc, params) for ref, doc, params in strategy_classes()]


@get("/api/strategies", sync_to_thread=False)
def list_strategies(ctx: Ctx) -> list[StrategyOut]:
    trading = trading_of(ctx)
    return [_out(trading, view.spec.strategy_id) for view in trading.views()]


@post("/api/strategies", status_code=HTTP_201_CREATED)
async def register_strategy(ctx: Ctx, data: JSONBody[dict[str, Any]]) -> StrategyOut:
    trading = trading_of(ctx)
    spec = _convert(data, StrategySpec)
    if spec.strategy_id in trading.specs:
        raise HTTPException(status_code=409, detail=f"strategy_id {spec.strategy_id!r} is already registered")
    _register(trading, spec)
    trading.persist_soon()
    return _out(trading, spec.strategy_id)


@get("/api/strategies/{strategy_id:str}", sync_to_thread=False)
def read_strategy(ctx: Ctx, strategy_id: FromPath[str]) -> StrategyOut:
    return _out(trading_of(ctx), strategy_id)


@patch("/api/strategies/{strategy_id:str}")
async def change_strategy(
    ctx: Ctx, strategy_id: FromPath[str], data: JSONBody[dict[str, Any]]
) -> StrategyOut:
    trading = trading_of(ctx)
    current = _spec(trading, strategy_id)
    change = _convert(data, StrategyChange)
    updates = {k: v for k, v in msgspec.to_builtins(change).items() if v is not None}
    if "equity" in data and data["equity"] is None:
        updates["equity"] = None  # an explicit null clears explicit equity (back to target_weight)
    merged = {**msgspec.to_builtins(current), **updates}
    _register(trading, _convert(merged, StrategySpec))
    trading.persist_soon()
    return _out(trading, strategy_id)


@delete("/api/strategies/{strategy_id:str}", status_code=HTTP_204_NO_CONTENT)
async def delete_strategy(ctx: Ctx, strategy_id: FromPath[str]) -> None:
    trading = trading_of(ctx)
    _spec(trading, strategy_id)
    if strategy_id in trading.actors:
        raise HTTPException(status_code=409, detail=f"strategy {strategy_id!r} is running; stop it first")
    trading.specs.pop(strategy_id)
    trading.status.pop(strategy_id, None)
    trading.persist_soon()


@post("/api/strategies/{strategy_id:str}/start")
async def start_strategy(ctx: Ctx, strategy_id: FromPath[str]) -> StrategyOut:
    trading = trading_of(ctx)
    _spec(trading, strategy_id)
    try:
        await trading.start_strategy(strategy_id)
    except Exception as exc:
        raise HTTPException(
            status_code=409, detail=f"strategy {strategy_id!r} could not start: {exc}"
        ) from None
    return _out(trading, strategy_id)


@post("/api/strategies/{strategy_id:str}/stop")
async def stop_strategy(ctx: Ctx, strategy_id: FromPath[str]) -> StrategyOut:
    trading = trading_of(ctx)
    _spec(trading, strategy_id)
    if strategy_id in trading.actors:
        await trading.stop_strategy(strategy_id, "stopped through the API")
    return _out(trading, strategy_id)


def _spec(trading: LiveTrading, strategy_id: str) -> StrategySpec:
    spec = trading.specs.get(strategy_id)
    if spec is None:
        raise NotFoundException(f"unknown strategy {strategy_id!r}")
    return spec


def _register(trading: LiveTrading, spec: StrategySpec) -> None:
    try:
        trading.register(spec)
    except InvalidStrategy as exc:
        raise ValidationException(detail=str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


def _convert(data: Any, kind: type[T]) -> T:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise ValidationException(detail=field_message(exc)) from None
