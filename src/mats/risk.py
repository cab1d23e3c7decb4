"""Pre-trade checks, each one small and with a failure message that says what was wrong.

They run in the TradeManager before an order is journaled as sent; a refusal is journaled as Rejected
with its reason, published as ``RiskRejected``, and told to the strategy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from mats.config import RiskSettings
from mats.instruments import Instrument
from mats.model import OrderRequest

PriceOf = Callable[[int], float | None]


class RiskState:
    """What the checks need besides the order: limits, locks, the kill switch, last prices."""

    def __init__(
        self, limits: RiskSettings | Callable[[], RiskSettings], price_of: PriceOf | None = None
    ) -> None:
        # A callable follows settings changed through the API without a restart.
        self._limits = limits
        self.price_of = price_of or (lambda con_id: None)
        self.locks: dict[int, str] = {}  # conId → why it is locked
        self.killed = False
        self.kill_reason = ""
        self.killed_strategies: dict[str, str] = {}

    @property
    def limits(self) -> RiskSettings:
        return self._limits() if callable(self._limits) else self._limits


def check_order(state: RiskState, request: OrderRequest, instrument: Instrument | None) -> str | None:
    """The reason to refuse ``request``, or None to let it through."""
    if state.killed:
        return f"kill switch engaged ({state.kill_reason or 'no reason given'}): no new orders"
    if request.strategy_id in state.killed_strategies:
        return (
            f"kill switch engaged for {request.strategy_id} ({state.killed_strategies[request.strategy_id]})"
        )
    if request.con_id is not None and request.con_id in state.locks:
        return state.locks[request.con_id]
    limits = state.limits
    qty = abs(request.qty)
    if limits.max_order_qty and qty > limits.max_order_qty:
        return f"order quantity {qty:g} exceeds risk.max_order_qty {limits.max_order_qty:g}"
    price = request.limit_price or request.stop_price
    if price is None and request.con_id is not None:
        price = state.price_of(request.con_id)
    if limits.max_order_notional and price is not None and math.isfinite(price):
        multiplier = instrument.multiplier if instrument is not None else 1.0
        notional = qty * price * multiplier
        if notional > limits.max_order_notional:
            return (
                f"order notional {notional:,.2f} ({qty:g} × {price:g} × {multiplier:g}) exceeds "
                f"risk.max_order_notional {limits.max_order_notional:,.2f}"
            )
    return None


def update_locks(state: RiskState, locks: Mapping[int, str]) -> None:
    state.locks = dict(locks)
