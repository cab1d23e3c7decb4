"""What the exchange says happened; the server turns each event into wire messages for the right clients."""

from __future__ import annotations

from dataclasses import dataclass

from .orders import CommissionReport, Execution, OrderView


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """An order was accepted, modified or changed state: openOrder + orderStatus to owner and master."""

    order: OrderView


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """One execution: execDetails, then openOrder + orderStatus, then the commission report."""

    order: OrderView
    execution: Execution
    report: CommissionReport


@dataclass(frozen=True, slots=True)
class ExecutionCorrected:
    """A busted execution re-issued with the next revision: execDetails + commission report again."""

    order: OrderView
    execution: Execution
    report: CommissionReport


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """Error 201 to the owner, then the order shows as Inactive."""

    order: OrderView
    reason: str


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """orderStatus Cancelled to owner and master, then error 202 to the owner."""

    order: OrderView
    reason: str


@dataclass(frozen=True, slots=True)
class WhatIfAnswered:
    """A whatIf order's margin impact, for the asking client only; no order is created."""

    order: OrderView
    margins: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """A holding changed: position subscribers get it now, account and PnL subscribers soon."""

    con_id: int


@dataclass(frozen=True, slots=True)
class PricesMoved:
    """Prices moved (walk, replay or control API): ticks go out, account and PnL values are stale.

    `size` is what printed at each new price (0 for a quote-only move).
    """

    con_ids: tuple[int, ...] = ()
    size: float = 100.0


ExchangeEvent = (
    OrderChanged
    | OrderFilled
    | ExecutionCorrected
    | OrderRejected
    | OrderCancelled
    | WhatIfAnswered
    | PositionChanged
    | PricesMoved
)
