"""The ``Broker`` a strategy talks to, and the seed's equity resolution.

A strategy never sees actors or IB clients: it calls its broker. The live broker (later) forwards to the
TradeManager and PortfolioManager; :class:`mats.brokers.backtest.BacktestBroker` fills against bars.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from mats.instruments import Instrument, InstrumentResolver
from mats.model import Fill, OrderRequest, OrderStatus, Position

if TYPE_CHECKING:
    from mats.brokers.orders import OrderHandle
    from mats.brokers.schedule import ScheduledJob


class OrderRejected(ValueError):
    """An order MATS refused before it reached the market; ``reason`` says what was wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OrderEventListener(Protocol):
    """What a broker tells the owner of an order (a strategy, or the actor hosting it).

    ``wants_fills`` / ``wants_statuses`` let a broker skip building events nobody reads.
    """

    wants_fills: bool
    wants_statuses: bool

    def notify_fill(self, fill: Fill) -> None: ...

    def notify_status(self, status: OrderStatus) -> None: ...


def resolve_equity(explicit: float | None, target_weight: float, total_equity: float) -> float:
    """The seed's rule: a strategy's explicit equity if set, else target_weight × total account equity."""
    if explicit is not None:
        return explicit
    if not 0.0 <= target_weight <= 1.0 or math.isnan(target_weight):
        raise ValueError(f"target_weight must be within [0, 1], got {target_weight}")
    return target_weight * total_equity


class Broker(ABC):
    """Orders, positions, equity, history and time for the strategies of one account."""

    def __init__(self, instruments: InstrumentResolver, base_currency: str = "USD") -> None:
        self.instruments = instruments
        self.base_currency = base_currency
        self._listeners: dict[str, OrderEventListener] = {}
        self._allocations: dict[str, tuple[float | None, float]] = {}

    def register(
        self,
        strategy_id: str,
        listener: OrderEventListener,
        *,
        equity: float | None = None,
        target_weight: float = 0.0,
    ) -> None:
        if strategy_id in self._listeners:
            raise ValueError(f"strategy_id {strategy_id!r} is already registered with this broker")
        self._listeners[strategy_id] = listener
        self._allocations[strategy_id] = (equity, target_weight)

    def strategy_equity(self, strategy_id: str) -> float:
        _, target_weight = self._allocations.get(strategy_id, (None, 0.0))
        return resolve_equity(self.explicit_equity(strategy_id), target_weight, self.total_equity())

    def explicit_equity(self, strategy_id: str) -> float | None:
        """The strategy's explicit equity (the ``strategy_{id}`` table live), or None."""
        return self._allocations.get(strategy_id, (None, 0.0))[0]

    @abstractmethod
    def submit(self, request: OrderRequest, instrument: Instrument) -> OrderHandle:
        """Accept a validated order; raises :class:`OrderRejected` if it cannot be taken."""

    @abstractmethod
    def cancel(self, handle: OrderHandle) -> None: ...

    @abstractmethod
    def modify(
        self,
        handle: OrderHandle,
        *,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> None: ...

    @abstractmethod
    def wait_accepted(self, handle: OrderHandle) -> Awaitable[OrderHandle]: ...

    @abstractmethod
    def wait_filled(self, handle: OrderHandle) -> Awaitable[OrderHandle]: ...

    @abstractmethod
    def open_orders(self, strategy_id: str) -> list[OrderHandle]: ...

    @abstractmethod
    def position(self, strategy_id: str, instrument: Instrument) -> Position: ...

    @abstractmethod
    def total_equity(self) -> float:
        """Account equity (NetLiquidation) in the base currency."""

    @abstractmethod
    def history(
        self, instrument: Instrument, start: datetime | None, end: datetime | None, bar_size: str | None
    ) -> pd.DataFrame: ...

    @abstractmethod
    def now(self) -> datetime: ...

    @abstractmethod
    def schedule(self, job: ScheduledJob) -> None: ...
