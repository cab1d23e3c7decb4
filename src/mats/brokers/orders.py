"""Order validation and the handle a strategy gets back from ``place_order``."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING, Any

from mats.instruments import Instrument
from mats.model import Fill, OrderRef, OrderRequest, OrderState, OrderType, StrategyId, TimeInForce

if TYPE_CHECKING:
    from mats.brokers.base import Broker

from mats.brokers.base import OrderRejected

_TIFS: dict[object, TimeInForce] = {t.value: t for t in TimeInForce}


def _check_price(name: str, price: float | None, instrument: Instrument) -> float | None:
    if price is None:
        return None
    if (
        isinstance(price, bool)
        or not isinstance(price, int | float)
        or not math.isfinite(price)
        or price <= 0
    ):
        raise OrderRejected(f"{name} must be a positive finite number, got {price!r}")
    rounded = instrument.round_price(float(price))
    if rounded <= 0:
        raise OrderRejected(
            f"{name} {price} rounds to {rounded} on {instrument.key}'s tick {instrument.min_tick}"
        )
    return rounded


def check_qty(qty: object) -> float:
    if isinstance(qty, bool) or not isinstance(qty, int | float):
        raise OrderRejected(f"qty must be a non-zero finite number, got {qty!r}")
    if not math.isfinite(qty) or qty == 0:
        raise OrderRejected(f"qty must be a non-zero finite number, got {qty!r}")
    return float(qty)


def validate_order(
    strategy_id: str,
    instrument: Instrument,
    qty: object,
    limit_price: float | None = None,
    stop_price: float | None = None,
    tif: str = "DAY",
) -> OrderRequest:
    """A checked :class:`OrderRequest`: qty non-zero and finite, prices positive and on the minTick grid."""
    signed_qty = check_qty(qty)
    limit = _check_price("limit_price", limit_price, instrument)
    stop = _check_price("stop_price", stop_price, instrument)
    time_in_force = _TIFS.get(tif) or _TIFS.get(str(tif).upper())
    if time_in_force is None:
        allowed = ", ".join(t.value for t in TimeInForce)
        raise OrderRejected(f"tif must be one of {allowed}, got {tif!r}")
    if limit is not None and stop is not None:
        order_type = OrderType.STOP_LIMIT
    elif limit is not None:
        order_type = OrderType.LIMIT
    elif stop is not None:
        order_type = OrderType.STOP
    else:
        order_type = OrderType.MARKET
    return OrderRequest(
        StrategyId(strategy_id),
        instrument.key,
        signed_qty,
        order_type,
        limit,
        stop,
        time_in_force,
        instrument.con_id,
    )


class OrderHandle:
    """One order of a strategy, as MATS accepted it; its fields follow the order's life.

    ``await handle`` waits until MATS has accepted the order (at once in backtests); ``await
    handle.filled()`` waits until the order is done (filled, cancelled or rejected).
    """

    __slots__ = (
        "_broker",
        "avg_fill_price",
        "filled_qty",
        "fills",
        "instrument",
        "order_ref",
        "reason",
        "request",
        "status",
    )

    def __init__(
        self, broker: Broker, order_ref: OrderRef, request: OrderRequest, instrument: Instrument
    ) -> None:
        self._broker = broker
        self.order_ref = order_ref
        self.request = request
        self.instrument = instrument
        self.status = OrderState.PENDING
        self.filled_qty = 0.0  # unsigned, as IB reports
        self.avg_fill_price = 0.0
        self.fills: list[Fill] = []
        self.reason = ""

    @property
    def qty(self) -> float:
        """Signed quantity as requested (+ buy, - sell)."""
        return self.request.qty

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def limit_price(self) -> float | None:
        return self.request.limit_price

    @property
    def stop_price(self) -> float | None:
        return self.request.stop_price

    @property
    def remaining(self) -> float:
        return 0.0 if self.status.is_done else abs(self.request.qty) - self.filled_qty

    @property
    def is_done(self) -> bool:
        return self.status.is_done

    def cancel(self) -> None:
        self._broker.cancel(self)

    def modify(
        self, *, qty: float | None = None, limit_price: float | None = None, stop_price: float | None = None
    ) -> None:
        self._broker.modify(self, qty=qty, limit_price=limit_price, stop_price=stop_price)

    def filled(self) -> Awaitable[OrderHandle]:
        return self._broker.wait_filled(self)

    def __await__(self) -> Generator[Any, None, OrderHandle]:
        return self._broker.wait_accepted(self).__await__()

    def __repr__(self) -> str:
        r = self.request
        price = f" @{r.limit_price}" if r.limit_price is not None else ""
        stop = f" stop {r.stop_price}" if r.stop_price is not None else ""
        kind = r.order_type.value
        return f"<OrderHandle {self.order_ref} {kind} {r.qty:+g} {r.symbol}{price}{stop} {self.status.value}>"
