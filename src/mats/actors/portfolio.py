"""PortfolioManager (first cut): fills → positions, PnL and commissions per strategy.

It books only what the recorder's journal committed, so its positions are exactly the journal's. A
correction (a higher execId revision) replaces its original, and the account is rebuilt from the
current fills (average cost depends on order, so an in-place fix-up would be wrong). Commissions arrive
late and separately; they are joined to their fill by execId. Each booked fill is passed to its
strategy (``on_fill``) through ``route``.

Memory is bounded however long the engine runs: it keeps in ``_fills`` every fill executed within
``KEEP_FILLS_FOR`` of the newest one and, beyond that, the newest ``KEEP_FILLS``; an older fill is folded
into ``_settled`` (a ledger of everything let go) and its commission report dropped. That covers what can
still change a fill: IB corrects and re-sends (``reqExecutions`` after a reconnect) only the current day's
executions, and the repeat check by execId is the journal's, not ours. Everything let go stays in the
journal and ArcticDB; the blotter (``recent_fills``) shows what is kept.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import msgspec

from mats.accounting import Ledger
from mats.actors.base import CORE_ACTOR_POLICY, Actor
from mats.actors.bus import EventBus
from mats.actors.recorder import CommissionBooked, FillBooked
from mats.kept import Kept
from mats.messages import CommissionCharged, PositionChanged
from mats.model import DISCRETIONARY, Booking, CommissionReport, Fill, Position, split_exec_id
from mats.reconcile import reconcile

Route = Callable[[str, Fill], Awaitable[None] | None]

#: Fills kept in memory beyond the last ``KEEP_FILLS_FOR``; at ~1 KiB each, 10,000 is ~10 MiB.
KEEP_FILLS = 10_000
#: Every fill this close (by execution time) to the newest one is kept: IB still corrects or re-sends it.
KEEP_FILLS_FOR = timedelta(hours=24)


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
        self,
        *,
        bus: EventBus | None = None,
        base_currency: str = "USD",
        route: Route | None = None,
        keep_fills: int = KEEP_FILLS,
        keep_fills_for: timedelta = KEEP_FILLS_FOR,
    ) -> None:
        super().__init__("portfolio", bus=bus, control_capacity=100_000, policy=CORE_ACTOR_POLICY)
        self.base_currency = base_currency
        self.route = route
        self.keep_fills = keep_fills
        self.keep_fills_for = keep_fills_for
        self.ledger = Ledger(base_currency)
        self.settled_fills = 0  # fills let go from memory (folded into _settled)
        self._settled = Ledger(base_currency)  # the fills let go, in booking order: where a rebuild starts
        self._newest_exec_time: datetime | None = None
        self._fills: dict[str, Fill] = {}  # base execId → current revision, in booking order (bounded)
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
            self._let_go()

    async def handle(self, message: Any) -> Any:
        match message:
            case FillBooked(fill=fill, correction=correction):
                base = split_exec_id(fill.exec_id)[0]
                if correction and base not in self._fills:
                    # Its original was let go (older than KEEP_FILLS_FOR and KEEP_FILLS): IB does not correct
                    # past days, so this is not expected; the journal has it and a restart books it.
                    self.log.error(
                        "portfolio.correction_of_settled_fill",
                        exec_id=fill.exec_id,
                        strategy_id=fill.strategy_id,
                        action="not booked until the engine restarts and replays the journal",
                    )
                    return None
                self._set_fill(base, fill)
                if correction:
                    self._rebuild()
                    position = self.ledger.position(fill.strategy_id, fill.con_id)
                else:
                    position, _ = self.ledger.book(fill)
                    self._let_go()
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
                self._let_go()
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

    def kept(self) -> list[Kept]:
        """Fills past ``keep_fills`` stay while younger than ``keep_fills_for``: the count can pass it."""
        return [Kept("fills", len(self._fills), self.keep_fills)]

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
            if previous.exec_id != fill.exec_id:
                self._commissions.pop(previous.exec_id, None)  # a superseded revision's report counts no more
        self._fills[key] = fill
        self._count(fill, self._commissions.get(fill.exec_id), +1.0)
        if self._newest_exec_time is None or fill.exec_time > self._newest_exec_time:
            self._newest_exec_time = fill.exec_time

    def _let_go(self) -> None:
        """Fold the oldest fills beyond both bounds into ``_settled``; the books themselves do not change."""
        while len(self._fills) > self.keep_fills:
            key, oldest = next(iter(self._fills.items()))
            assert self._newest_exec_time is not None
            if oldest.exec_time > self._newest_exec_time - self.keep_fills_for:
                return
            del self._fills[key]
            self._commissions.pop(oldest.exec_id, None)
            self._settled.book(oldest)
            self.settled_fills += 1

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
        """The books again from the fills let go plus the kept ones, in booking order (after a correction)."""
        ledger = copy.deepcopy(self._settled)
        for fill in self._fills.values():
            ledger.book(fill)
        self.ledger = ledger
