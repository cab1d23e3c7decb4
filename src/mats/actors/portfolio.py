"""PortfolioManager (first cut): fills → positions, PnL and commissions per strategy.

It books only what the recorder's journal committed, so its positions are exactly the journal's. A
correction (a higher execId revision) replaces its original, and the account is rebuilt from the
current fills (average cost depends on order, so an in-place fix-up would be wrong). Commissions arrive
late and separately; they are joined to their fill by execId. Each booked fill is passed to its
strategy (``on_fill``) through ``route``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec

from mats.accounting import Ledger
from mats.actors.base import CORE_ACTOR_POLICY, Actor
from mats.actors.bus import EventBus
from mats.actors.recorder import CommissionBooked, FillBooked
from mats.messages import CommissionCharged, PositionChanged
from mats.model import DISCRETIONARY, Booking, CommissionReport, Fill, Position, split_exec_id
from mats.reconcile import reconcile

Route = Callable[[str, Fill], Awaitable[None] | None]


class GetPositions(msgspec.Struct, frozen=True):
    strategy_id: str | None = None


class GetCommissions(msgspec.Struct, frozen=True):
    pass


class Book(msgspec.Struct, frozen=True):
    """Apply an operator booking (already journaled) to the books."""

    booking: Booking


class ReconcileWith(msgspec.Struct, frozen=True):
    """IB's positions (conId → symbol, qty) and the contracts with orders in flight, to measure against."""

    ib_positions: dict[int, tuple[str, float]]
    in_flight: frozenset[int]


class PortfolioManager(Actor):
    def __init__(
        self, *, bus: EventBus | None = None, base_currency: str = "USD", route: Route | None = None
    ) -> None:
        super().__init__("portfolio", bus=bus, control_capacity=100_000, policy=CORE_ACTOR_POLICY)
        self.base_currency = base_currency
        self.route = route
        self.ledger = Ledger(base_currency)
        self._fills: dict[str, Fill] = {}  # base execId → current revision, in booking order
        self._commissions: dict[str, CommissionReport] = {}  # execId → report
        # (strategy, currency) → commission of the current revisions, kept as reports and fills arrive
        self._commission_totals: dict[tuple[str, str], float] = {}

    def replay(
        self,
        fills: Iterable[Fill],
        commissions: Iterable[CommissionReport] = (),
        bookings: Iterable[Booking] = (),
    ) -> None:
        """Start-up: the journal's fills and bookings, booked before the first live fill (no events)."""
        for report in commissions:
            self._commissions[report.exec_id] = report
        for fill in [*fills, *(b.as_fill() for b in bookings)]:
            self._set_fill(split_exec_id(fill.exec_id)[0], fill)
            self.ledger.book(fill)

    async def handle(self, message: Any) -> Any:
        match message:
            case FillBooked(fill=fill, correction=correction):
                self._set_fill(split_exec_id(fill.exec_id)[0], fill)
                if correction:
                    self._rebuild()
                    position = self.ledger.position(fill.strategy_id, fill.con_id)
                else:
                    position, _ = self.ledger.book(fill)
                if position is not None and self.bus is not None:
                    self.bus.publish(PositionChanged(position=position))
                if self.route is not None and fill.strategy_id != DISCRETIONARY:
                    result = self.route(fill.strategy_id, fill)
                    if result is not None:
                        await result
            case CommissionBooked(report=report):
                charged = self._fills.get(split_exec_id(report.exec_id)[0])
                self._set_commission(report, charged)
                if charged is not None and self.bus is not None:
                    self.bus.publish(
                        CommissionCharged(
                            exec_id=report.exec_id,
                            strategy_id=charged.strategy_id,
                            commission=report.commission,
                            currency=report.currency,
                        )
                    )
            case GetPositions(strategy_id=strategy_id):
                return [p for p in self.ledger.positions(strategy_id) if p.qty != 0 or p.realized_pnl != 0]
            case GetCommissions():
                return self.commissions_by_strategy()
            case Book(booking=booking):
                fill = booking.as_fill()
                self._set_fill(fill.exec_id, fill)
                position, _ = self.ledger.book(fill)
                if self.bus is not None:
                    self.bus.publish(PositionChanged(position=position))
                return position
            case ReconcileWith(ib_positions=ib_positions, in_flight=in_flight):
                return reconcile(ib_positions, self.ledger.positions(), in_flight=in_flight)
        return None

    def commissions_by_strategy(self) -> dict[str, float]:
        """Commission per strategy in its report's currency (all USD in the simulator's stock trades)."""
        out: dict[str, float] = {}
        for (strategy_id, _), commission in self.commissions_by_currency().items():
            out[strategy_id] = out.get(strategy_id, 0.0) + commission
        return out

    def fills(self) -> list[Fill]:
        """Current fills (corrections applied), commission joined, in booking order: for read-only views."""
        out = []
        for fill in self._fills.values():
            report = self._commissions.get(fill.exec_id)
            out.append(msgspec.structs.replace(fill, commission=report.commission) if report else fill)
        return out

    def recent_fills(self, limit: int, strategy_id: str | None = None) -> list[Fill]:
        """The newest ``limit`` current fills (of one strategy), newest first, commission joined.

        Walks back from the newest only as far as it must: a blotter polled every second must not cost
        more as the day's fills grow."""
        out: list[Fill] = []
        for fill in reversed(self._fills.values()):
            if len(out) >= limit:
                break
            if strategy_id is not None and fill.strategy_id != strategy_id:
                continue
            report = self._commissions.get(fill.exec_id)
            out.append(msgspec.structs.replace(fill, commission=report.commission) if report else fill)
        return out

    def positions(self, strategy_id: str | None = None) -> list[Position]:
        return self.ledger.positions(strategy_id)

    def commissions_by_currency(self) -> dict[tuple[str, str], float]:
        """Commission per (strategy, currency the report was in), for conversion to the base currency.

        Kept as a running total (a correction moves its revision's commission out): the daily-loss guard
        asks every second, and walking the day's reports each time grew with the day."""
        return {key: total for key, total in self._commission_totals.items() if total}

    def _set_fill(self, key: str, fill: Fill) -> None:
        """Book ``fill`` as the current revision under ``key``; the totals follow which revision counts."""
        previous = self._fills.get(key)
        if previous is not None:
            self._count(previous, self._commissions.get(previous.exec_id), -1.0)
        self._fills[key] = fill
        self._count(fill, self._commissions.get(fill.exec_id), +1.0)

    def _set_commission(self, report: CommissionReport, fill: Fill | None) -> None:
        if fill is not None and fill.exec_id == report.exec_id:  # it charges the current revision
            self._count(fill, self._commissions.get(report.exec_id), -1.0)  # a repeated report replaces
            self._count(fill, report, +1.0)
        self._commissions[report.exec_id] = report

    def _count(self, fill: Fill, report: CommissionReport | None, sign: float) -> None:
        if report is not None:
            key = (fill.strategy_id, report.currency)
            self._commission_totals[key] = self._commission_totals.get(key, 0.0) + sign * report.commission

    def position(self, strategy_id: str, con_id: int) -> Position | None:
        return self.ledger.position(strategy_id, con_id)

    def _rebuild(self) -> None:
        ledger = Ledger(self.base_currency)
        for fill in self._fills.values():
            ledger.book(fill)
        self.ledger = ledger
