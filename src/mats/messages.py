"""Commands (imperative) and events (past tense) that actors exchange and the EventBus publishes.

Every event names the stream ``type`` it appears under on ``/api/stream`` (fill, order, position,
reconciliation, strategy, connection, risk, alert, backtest, log), so the API needs no mapping table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

from mats.model import Fill, OrderRequest, OrderStatus, Position


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """Something an actor is asked to do; it may refuse."""


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Something that happened; published on the EventBus."""

    stream_type: ClassVar[str] = "log"


# --- commands -------------------------------------------------------------------------------------


class PlaceOrder(Command, frozen=True):
    request: OrderRequest
    order_ref: str


class CancelOrder(Command, frozen=True):
    order_ref: str


class ModifyOrder(Command, frozen=True):
    order_ref: str
    qty: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None


class StartStrategy(Command, frozen=True):
    strategy_id: str


class StopStrategy(Command, frozen=True):
    strategy_id: str
    reason: str = "requested"


class Reconcile(Command, frozen=True):
    reason: str = "on demand"


class Drain(Command, frozen=True):
    """Answered once everything queued before it has been handled (a barrier between actors)."""


class EngageKillSwitch(Command, frozen=True):
    strategy_id: str | None = None  # None: every strategy and the whole account
    reason: str = ""


# --- events ---------------------------------------------------------------------------------------


class OrderStatusChanged(Event, frozen=True):
    stream_type: ClassVar[str] = "order"
    status: OrderStatus


class OrderFilled(Event, frozen=True):
    stream_type: ClassVar[str] = "fill"
    fill: Fill


class CommissionCharged(Event, frozen=True):
    """A commission joined to its fill (it arrives separately, often after the fill)."""

    stream_type: ClassVar[str] = "fill"
    exec_id: str
    strategy_id: str
    commission: float
    currency: str


class PositionChanged(Event, frozen=True):
    stream_type: ClassVar[str] = "position"
    position: Position


class StrategyStatusChanged(Event, frozen=True):
    stream_type: ClassVar[str] = "strategy"
    strategy_id: str
    status: str  # registered, starting, running, stopped, failed
    reason: str = ""


class ActorFailed(Event, frozen=True):
    """A handler raised; the actor's supervisor applied its restart policy."""

    stream_type: ClassVar[str] = "alert"
    actor: str
    error: str
    action: str  # "restarted" or "stopped"


class ActorStopped(Event, frozen=True):
    stream_type: ClassVar[str] = "alert"
    actor: str
    reason: str


class ConnectionChanged(Event, frozen=True):
    stream_type: ClassVar[str] = "connection"
    client_id: int
    role: str
    connected: bool
    detail: str = ""


class RiskRejected(Event, frozen=True):
    stream_type: ClassVar[str] = "risk"
    strategy_id: str
    symbol: str
    reason: str


class AlertRaised(Event, frozen=True):
    stream_type: ClassVar[str] = "alert"
    kind: str  # break, lock, disconnect, degraded_storage, loop_lag, …
    message: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class PositionsReconciled(Event, frozen=True):
    stream_type: ClassVar[str] = "reconciliation"
    reason: str
    rows: list[Any]


class KillSwitchChanged(Event, frozen=True):
    stream_type: ClassVar[str] = "risk"
    engaged: bool
    strategy_id: str | None
    reason: str


class LoopLagMeasured(Event, frozen=True):
    stream_type: ClassVar[str] = "log"
    lag_ms: float
    at: datetime
