"""``BaseStrategy``: the API every strategy is written against, the same live and in backtests.

A strategy knows a :class:`mats.brokers.Broker`, never actors or IB clients, so a backtest can drive it
bare (and without an event loop when it does not suspend) while the live engine hosts it in an actor.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from typing import Any, ClassVar

import pandas as pd

from mats.brokers.base import Broker, OrderRejected
from mats.brokers.orders import OrderHandle, validate_order
from mats.brokers.schedule import ScheduledJob
from mats.instruments import Instrument, InstrumentSpec, UnknownInstrument
from mats.model import Bar, Fill, OrderStatus, Position


def make_params(cls: type, overrides: Mapping[str, Any] | None) -> SimpleNamespace:
    """The class's ``params`` with ``overrides`` applied; an unknown name is an error, not a silent no-op."""
    defaults: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        defaults.update(getattr(klass, "params", None) or {})
    unknown = set(overrides or {}) - set(defaults)
    if unknown:
        known = ", ".join(sorted(defaults)) or "no params"
        raise ValueError(f"unknown param(s) {sorted(unknown)} for {cls.__name__}; it takes {known}")
    return SimpleNamespace(**{**defaults, **(overrides or {})})


def run_to_completion(result: Any, what: str) -> Any:
    """Finish a hook's coroutine without an event loop; a hook that would suspend is an error here."""
    if not inspect.iscoroutine(result):
        return result
    try:
        yielded = result.send(None)
    except StopIteration as stop:
        return stop.value
    result.close()
    raise RuntimeError(f"{what} suspended on {yielded!r}; hooks must not wait (place orders, then return)")


def _snake_case(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


class BaseStrategy:
    """Subclass it, set ``params``, and implement ``run_strategy(bar)`` (a plain or an async def)."""

    params: ClassVar[Mapping[str, Any]] = {}

    def __init__(
        self,
        broker: Broker,
        *,
        strategy_id: str | None = None,
        symbols: Sequence[InstrumentSpec] = (),
        params: Mapping[str, Any] | None = None,
        equity: float | None = None,
        target_weight: float = 1.0,
    ) -> None:
        self.strategy_id = strategy_id or _snake_case(type(self).__name__)
        self.symbols = list(symbols)
        self.p = make_params(type(self), params)
        self._broker = broker
        self.wants_fills = type(self).on_fill is not BaseStrategy.on_fill
        self.wants_statuses = type(self).on_order_status is not BaseStrategy.on_order_status
        broker.register(self.strategy_id, self, equity=equity, target_weight=target_weight)

    # --- what a strategy implements -------------------------------------------------------------------

    def initialize_strategy(self) -> Awaitable[None] | None:
        """Once, after warm-up data and open orders are loaded."""
        return None

    def run_strategy(self, bar: Bar) -> Awaitable[None] | None:
        """Every bar of a subscribed instrument."""
        raise NotImplementedError(f"{type(self).__name__} must implement run_strategy(bar)")

    def on_fill(self, fill: Fill) -> Awaitable[None] | None:
        """Each execution of one of this strategy's orders."""
        return None

    def on_order_status(self, status: OrderStatus) -> Awaitable[None] | None:
        """Each change of state of one of this strategy's orders."""
        return None

    # --- what a strategy calls ------------------------------------------------------------------------

    def place_order(
        self,
        instrument: InstrumentSpec | Instrument,
        qty: float,
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str = "DAY",
    ) -> OrderHandle:
        """Send an order; the sign of ``qty`` is the side. Prices are rounded to the instrument's minTick.

        Returns the handle once MATS has taken the order; ``await`` it to wait for acceptance (risk
        checks and journal live; immediate in backtests). Raises :class:`OrderRejected` saying why.
        """
        try:
            inst = self._resolve(instrument)
        except UnknownInstrument as exc:
            raise OrderRejected(str(exc)) from None
        request = validate_order(self.strategy_id, inst, qty, limit_price, stop_price, tif)
        return self._broker.submit(request, inst)

    def open_orders(self) -> list[OrderHandle]:
        return self._broker.open_orders(self.strategy_id)

    def position(self, instrument: InstrumentSpec | Instrument) -> Position:
        """This strategy's position (flat if none); ``.qty`` is signed, ``.avg_cost`` per unit of price."""
        return self._broker.position(self.strategy_id, self._resolve(instrument))

    def get_equity(self) -> float:
        """Explicit equity if set, else target_weight × total account equity (base currency)."""
        return self._broker.strategy_equity(self.strategy_id)

    def get_data(
        self,
        instrument: InstrumentSpec | Instrument,
        start: datetime | None = None,
        end: datetime | None = None,
        bar_size: str | None = None,
    ) -> pd.DataFrame:
        """OHLCV bars indexed by time; in backtests never beyond the current bar."""
        return self._broker.history(self._resolve(instrument), start, end, bar_size)

    def now(self) -> datetime:
        return self._broker.now()

    def schedule(
        self,
        callback: Callable[[], Any],
        *,
        every: timedelta | str | None = None,
        at: time | str | None = None,
        tz: str = "UTC",
    ) -> ScheduledJob:
        """Call ``callback()`` every ``every`` (timedelta or ``"15min"``), or daily ``at`` in ``tz``."""
        if isinstance(every, str):
            every = pd.Timedelta(every).to_pytimedelta()
        if isinstance(at, str):
            at = time.fromisoformat(at)
        job = ScheduledJob(self.strategy_id, callback, every=every, at=at, tz=tz)
        self._broker.schedule(job)
        return job

    # --- what the broker (or the hosting actor) calls -------------------------------------------------

    def notify_fill(self, fill: Fill) -> None:
        if self.wants_fills:
            run_to_completion(self.on_fill(fill), f"{self.strategy_id}.on_fill")

    def notify_status(self, status: OrderStatus) -> None:
        if self.wants_statuses:
            run_to_completion(self.on_order_status(status), f"{self.strategy_id}.on_order_status")

    def _resolve(self, instrument: InstrumentSpec | Instrument) -> Instrument:
        return self._broker.instruments.resolve(instrument)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.strategy_id} {self.symbols} {vars(self.p)}>"
