"""Pre-trade checks, each one small and with a failure message that names the limit and the numbers.

They run in the TradeManager before an order is journaled as sent; a refusal is journaled as Rejected
with its reason, published as ``RiskRejected``, and told to the strategy. The account's ``[risk]``
limits apply to every strategy; a strategy's own ``risk`` table (``StrategySpec.risk``) can tighten
them, and where both are set the tighter one refuses. Everything a check reads is O(1): the counters
(open orders, working quantity, recent orders) are kept up to date as orders are admitted and end.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mats.config import RiskSettings
from mats.instruments import Instrument
from mats.model import OrderRequest, OrderStatus, Position, StrategyRisk

PriceOf = Callable[[int], float | None]
PositionOf = Callable[[str, int], Position | None]
StrategyLimits = Callable[[str], StrategyRisk | None]

RATE_WINDOW_S = 60.0


@dataclass
class _Working:
    """An admitted order not yet done: what it may still add to its strategy's position."""

    strategy_id: str
    con_id: int | None
    remaining: float  # signed, like the request

    @property
    def buy(self) -> bool:
        return math.copysign(1.0, self.remaining) > 0


class RiskState:
    """What the checks need besides the order: limits, locks, kill switch, prices, positions, counters."""

    def __init__(
        self,
        limits: RiskSettings | Callable[[], RiskSettings],
        price_of: PriceOf | None = None,
        *,
        position_of: PositionOf | None = None,
        strategy_limits: StrategyLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # A callable follows settings changed through the API without a restart.
        self._limits = limits
        self.price_of = price_of or (lambda con_id: None)
        self.position_of = position_of or (lambda strategy_id, con_id: None)
        self.strategy_limits = strategy_limits or (lambda strategy_id: None)
        self.clock = clock
        self.locks: dict[int, str] = {}  # conId → why it is locked
        self.killed = False
        self.kill_reason = ""
        self.killed_strategies: dict[str, str] = {}
        self.reducing_only: dict[str, str] = {}  # strategy → why (its daily loss), until the daily reset
        self._working: dict[str, _Working] = {}  # orderRef → an admitted order still working
        self.open_orders: dict[str, int] = {}  # strategy → how many of its orders are working
        # (strategy, conId) → [working buy quantity, working sell quantity], both positive
        self.working_qty: dict[tuple[str, int], list[float]] = {}
        self.recent: dict[str, deque[float]] = {}  # strategy → clock() of its orders admitted lately
        self._binding: dict[str, Limits] = {}

    @property
    def limits(self) -> RiskSettings:
        return self._limits() if callable(self._limits) else self._limits

    def limits_for(self, strategy_id: str) -> Limits:
        """The limits binding ``strategy_id`` now (rebuilt when the settings or its table change)."""
        account, own = self.limits, self.strategy_limits(strategy_id)
        cached = self._binding.get(strategy_id)
        if cached is None or cached.account is not account or cached.own is not own:
            cached = self._binding[strategy_id] = Limits(account, own, strategy_id)
        return cached

    # --- counters (the TradeManager keeps them current) ----------------------------------------------

    def order_admitted(self, request: OrderRequest, order_ref: str) -> None:
        """An order passed the checks: it counts as open and towards the rate from now on."""
        recent = self.recent.setdefault(request.strategy_id, deque())
        now = self.clock()
        while recent and recent[0] <= now - RATE_WINDOW_S:  # kept to a minute even with the rate off
            recent.popleft()
        recent.append(now)
        self.order_working(request, order_ref)

    def order_working(self, request: OrderRequest, order_ref: str) -> None:
        """An order working at IB (admitted now, or found again at start-up)."""
        if order_ref in self._working:
            return
        working = _Working(request.strategy_id, request.con_id, request.qty)
        self._working[order_ref] = working
        self.open_orders[request.strategy_id] = self.open_orders.get(request.strategy_id, 0) + 1
        self._add_working(working, working.remaining)

    def order_status(self, status: OrderStatus) -> None:
        """An order's new status: its remaining quantity shrinks as it fills; once done it stops counting."""
        working = self._working.get(status.order_ref)
        if working is None:
            return
        if status.state.is_done:
            del self._working[status.order_ref]
            self.open_orders[working.strategy_id] -= 1
            self._add_working(working, -working.remaining)
            return
        remaining = math.copysign(status.remaining, working.remaining)
        self._add_working(working, remaining - working.remaining)
        working.remaining = remaining

    def _add_working(self, working: _Working, delta: float) -> None:
        """Move the working quantity of ``working``'s side by ``delta`` (signed, like the order)."""
        if working.con_id is None or not delta:
            return
        sides = self.working_qty.setdefault((working.strategy_id, working.con_id), [0.0, 0.0])
        if working.buy:
            sides[0] += delta
        else:
            sides[1] -= delta


def admit(
    state: RiskState, request: OrderRequest, instrument: Instrument | None, order_ref: str
) -> str | None:
    """``check_order``, and when it lets the order through, count it (open orders, rate)."""
    refusal = check_order(state, request, instrument)
    if refusal is None:
        state.order_admitted(request, order_ref)
    return refusal


def check_order(state: RiskState, request: OrderRequest, instrument: Instrument | None) -> str | None:
    """The reason to refuse ``request``, or None to let it through."""
    refusal = _stopped(state, request)
    if refusal is not None:
        return refusal
    limits = state.limits_for(request.strategy_id)
    for check in limits.checks:
        refusal = check(state, request, instrument, limits)
        if refusal is not None:
            return refusal
    return None


def check_modify(state: RiskState, request: OrderRequest, instrument: Instrument | None) -> str | None:
    """The reason to refuse changing a working order into ``request``: the checks on the order itself
    (quantity, notional, price collar). Position, open-order and rate limits counted it when it was
    placed; a smaller quantity or a nearer price must always be allowed, so they are not asked again."""
    refusal = _stopped(state, request)
    if refusal is not None:
        return refusal
    limits = state.limits_for(request.strategy_id)
    for check in limits.checks:
        if check in _ORDER_ITSELF:
            refusal = check(state, request, instrument, limits)
            if refusal is not None:
                return refusal
    return None


def _stopped(state: RiskState, request: OrderRequest) -> str | None:
    """The kill switches and contract locks: they refuse whatever the order is."""
    if state.killed:
        return f"kill switch engaged ({state.kill_reason or 'no reason given'}): no new orders"
    if request.strategy_id in state.killed_strategies:
        return (
            f"kill switch engaged for {request.strategy_id} ({state.killed_strategies[request.strategy_id]})"
        )
    if request.con_id is not None and request.con_id in state.locks:
        return state.locks[request.con_id]
    return None


class Limits:
    """One strategy's binding limits: for each key the tighter of the account's and its own (0 = off),
    and the checks that are on. Built once per change of either, so an order reads plain attributes."""

    def __init__(self, account: RiskSettings, own: StrategyRisk | None, strategy_id: str) -> None:
        self.account, self.own = account, own
        self.binding: dict[str, tuple[float, str]] = {}
        for key in LIMIT_KEYS:
            mine = getattr(own, key) if own is not None else 0
            theirs = getattr(account, key)
            if mine and (not theirs or mine <= theirs):
                self.binding[key] = (mine, f"strategies[{strategy_id}].risk.{key}")
            else:
                self.binding[key] = (theirs, f"risk.{key}")
        self.allowed_symbols = own.allowed_symbols if own is not None else []
        self.checks: tuple[Check, ...] = tuple(
            check
            for key, check in _CHECKS
            if key is None
            or (key == "allowed_symbols" and self.allowed_symbols)
            or self.binding.get(key, (0,))[0]
        )

    def tighter(self, key: str) -> tuple[float, str]:
        """(the binding value of limit ``key``, the key as a trader finds it in the settings); 0 = off."""
        return self.binding[key]


LIMIT_KEYS = (
    "max_order_qty",
    "max_order_notional",
    "price_collar_pct",
    "max_position",
    "max_open_orders",
    "max_orders_per_minute",
    "daily_loss_limit",
    "daily_loss_halt",
)


Check = Callable[[RiskState, OrderRequest, Instrument | None, Limits], str | None]


def _allowed_symbols(
    state: RiskState, request: OrderRequest, instrument: Instrument | None, limits: Limits
) -> str | None:
    allowed = limits.allowed_symbols
    if not allowed or request.symbol in allowed or (instrument is not None and instrument.symbol in allowed):
        return None
    return (
        f"{request.symbol} is not in strategies[{request.strategy_id}].risk.allowed_symbols "
        f"{', '.join(allowed)}"
    )


def _reducing_only(
    state: RiskState, request: OrderRequest, instrument: Instrument | None, limits: Limits
) -> str | None:
    why = state.reducing_only.get(request.strategy_id)
    if why is None:
        return None
    held, buying, selling = _exposure(state, request)
    # What the position becomes if this order and every working order on its side fill.
    after = held + buying + request.qty if request.qty > 0 else held - selling + request.qty
    if held and abs(after) < abs(held) and (after == 0 or (after > 0) == (held > 0)):
        return None
    return (
        f"{request.strategy_id} is reducing-only ({why}): this order would take {request.symbol} "
        f"from {held:g} to {after:g}"
    )


def _order_qty(
    state: RiskState, request: OrderRequest, instrument: Instrument | None, limits: Limits
) -> str | None:
    cap, key = limits.tighter("max_order_qty")
    qty = abs(request.qty)
    if cap and qty > cap:
        return f"order quantity {qty:g} exceeds {key} {cap:g}"
    return None


def _order_notional(
    state: RiskState, request: OrderRequest, instrument: Instrument | None, limits: Limits
) -> str | None:
    cap, key = limits.tighter("max_order_notional")
    if not cap:
        return None
    price = request.limit_price or request.stop_price
    if price is None and request.con_id is not None:
        price = state.price_of(request.con_id)  # a market order, at the last price
    if price is None or not math.isfinite(price):
        return None
    qty = abs(request.qty)
    multiplier = instrument.multiplier if instrument is not None else 1.0
    notional = qty * price * multiplier
    if notional > cap:
        return (
            f"order notional {notional:,.2f} ({qty:g} × {price:g} × {multiplier:g}) exceeds {key} {cap:,.2f}"
        )
    return None


def _price_collar(
    state: RiskState, request: OrderRequest, instrument: Instrument | None, limits: Limits
) -> str | None:
    collar, key = limits.tighter("price_collar_pct")
    if not collar or request.con_id is None or (request.limit_price is None and request.stop_price is None):
        return None
    market = state.price_of(request.con_id)
    if market is None or not math.isfinite(market) or market <= 0:
        return None  # no last price yet: nothing to measure against
    for name, price in (("limit", request.limit_price), ("stop", request.stop_price)):
        if price is None:
            continue
        off = abs(price - market) / market * 100.0
        if off > collar:
            return (
                f"{name} price {price:g} is {off:.1f}% from the last price {market:g}, "
                f"beyond {key} {collar:g}%"
            )
    return None


def _max_position(
    state: RiskState, request: OrderRequest, instrument: Instrument | None, limits: Limits
) -> str | None:
    cap, key = limits.tighter("max_position")
    if not cap or request.con_id is None:
        return None
    held, buying, selling = _exposure(state, request)
    working = buying if request.qty > 0 else -selling
    after = held + working + request.qty
    if abs(after) <= cap or abs(after) <= abs(held + working):
        return None  # within the limit, or it reduces
    return (
        f"{request.symbol} position would reach {after:g} (held {held:g}, working {working:+g}, "
        f"this order {request.qty:+g}), beyond {key} {cap:g}"
    )


def _open_orders(
    state: RiskState, request: OrderRequest, instrument: Instrument | None, limits: Limits
) -> str | None:
    cap, key = limits.tighter("max_open_orders")
    count = state.open_orders.get(request.strategy_id, 0)
    if cap and count >= cap:
        return f"{request.strategy_id} has {count} open orders, {key} is {cap:g}"
    return None


def _order_rate(
    state: RiskState, request: OrderRequest, instrument: Instrument | None, limits: Limits
) -> str | None:
    cap, key = limits.tighter("max_orders_per_minute")
    recent = state.recent.get(request.strategy_id)
    if not cap or recent is None:
        return None
    horizon = state.clock() - RATE_WINDOW_S
    while recent and recent[0] <= horizon:  # amortized O(1): each time leaves once
        recent.popleft()
    if len(recent) >= cap:
        return f"{request.strategy_id} sent {len(recent)} orders in the last minute, {key} is {cap:g}"
    return None


_CHECKS: tuple[tuple[str | None, Check], ...] = (  # (the limit that turns it on, or None: always)
    ("allowed_symbols", _allowed_symbols),
    (None, _reducing_only),
    ("max_order_qty", _order_qty),
    ("max_order_notional", _order_notional),
    ("price_collar_pct", _price_collar),
    ("max_position", _max_position),
    ("max_open_orders", _open_orders),
    ("max_orders_per_minute", _order_rate),
)

_ORDER_ITSELF: frozenset[Check] = frozenset({_order_qty, _order_notional, _price_collar})


def _exposure(state: RiskState, request: OrderRequest) -> tuple[float, float, float]:
    """(position held, working buy quantity, working sell quantity) of the request's strategy and contract."""
    if request.con_id is None:
        return 0.0, 0.0, 0.0
    position = state.position_of(request.strategy_id, request.con_id)
    buying, selling = state.working_qty.get((request.strategy_id, request.con_id), (0.0, 0.0))
    return (position.qty if position is not None else 0.0), buying, selling


def update_locks(state: RiskState, locks: Mapping[int, str]) -> None:
    state.locks = dict(locks)
