"""Account controls: reconciliation, operator bookings and the kill switch (DESIGN section 5, issue 8).

They act across the live path's actors — the recorder, the PortfolioManager, the TradeManager — and the
risk state the TradeManager checks, so they live beside the wiring rather than inside any one actor.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec
import structlog
from ulid import ULID

from mats.actors.portfolio import Book, ReconcileWith
from mats.actors.strategy import InvalidStrategy
from mats.actors.trades import CancelAll
from mats.ib.connection import ManagedClient
from mats.messages import AlertRaised, Drain, KillSwitchChanged, PositionsReconciled
from mats.model import DISCRETIONARY, Booking, ConId, StrategyId
from mats.reconcile import ContractReconciliation, lock_reason
from mats.store.crashpoints import MID_RECONCILE, crash_point

if TYPE_CHECKING:
    from mats.trading import LiveTrading


class PositionsUnknown(RuntimeError):
    """Reconciliation needs IB's positions, and the client that holds them is not connected."""


RECONNECT_WAIT_S = 30.0  # how long a reconnect's reconciliation waits for the engine's client

log = structlog.get_logger("mats.controls")

START_UP = "start-up"  # the reason LiveTrading gives its first reconciliation


class AccountControls:
    """Reconcile, book and kill, for one running ``LiveTrading``."""

    def __init__(self, trading: LiveTrading) -> None:
        self.trading = trading
        self.last_reconciliation: list[ContractReconciliation] = []

    async def reconcile(self, reason: str = "on demand") -> list[ContractReconciliation]:
        """IB's positions against the books, with the fills already received booked first (DESIGN §5)."""
        engine, portfolio, recorder, trades = (
            self.trading.engine,
            self.trading.portfolio,
            self.trading.recorder,
            self.trading.trades,
        )
        if (
            engine is None
            or portfolio is None
            or recorder is None
            or trades is None
            or self.trading.risk is None
        ):
            raise RuntimeError("live trading has not started")
        positions_client = self.trading._hub(engine).engine
        ib = positions_client.ib
        if ib is None or not positions_client.connected:
            # its position table is empty while it reconnects: measuring it would lock every contract
            raise PositionsUnknown("the engine's IB client is not connected: IB's positions are unknown")
        net: dict[int, tuple[str, float]] = {}
        for item in ib.positions(self.trading.account) if self.trading.account else ib.positions():
            symbol, qty = net.get(
                item.contract.conId, (item.contract.localSymbol or item.contract.symbol, 0.0)
            )
            net[item.contract.conId] = (symbol, qty + float(item.position))
        await recorder.ask(Drain())  # every execution received so far is journaled and forwarded...
        rows: list[ContractReconciliation] = await portfolio.ask(
            ReconcileWith(ib_positions=net, in_flight=frozenset(trades.open_con_ids()))
        )  # ...and booked, since the portfolio handles its mailbox in order
        crash_point(MID_RECONCILE)
        before = set(self.trading.risk.locks)
        self.trading.risk.locks = {row.con_id: lock_reason(row) for row in rows if row.locked}
        for row in rows:
            if row.locked and row.con_id not in before:
                engine.bus.publish(
                    AlertRaised(kind="lock", message=lock_reason(row), data={"con_id": row.con_id})
                )
        for con_id in before - set(self.trading.risk.locks):
            engine.bus.publish(
                AlertRaised(
                    kind="unlock", message=f"contract {con_id} reconciles again", data={"con_id": con_id}
                )
            )
        self.last_reconciliation = rows
        engine.bus.publish(PositionsReconciled(reason=reason, rows=[msgspec.to_builtins(r) for r in rows]))
        log.info(
            "positions.reconciled", reason=reason, contracts=len(rows), locked=len(self.trading.risk.locks)
        )
        # The books as reconciled, to {account}/portfolio (DESIGN §5 step 5); at start-up this is the
        # start-up snapshot. A storage failure is logged there and never fails the reconciliation.
        await self.trading.snapshot("startup" if reason == START_UP else "reconcile")
        return rows

    async def book(
        self, *, con_id: int, strategy_id: str, qty: float, reason: str, by: str, price: float | None = None
    ) -> tuple[Booking, list[ContractReconciliation]]:
        """An operator attributes shares IB reports to a strategy or to Discretionary; journaled first."""
        if self.trading.journal is None or self.trading.portfolio is None:
            raise RuntimeError("live trading has not started")
        if not reason.strip():
            raise InvalidStrategy("reason", "a booking needs a reason (it is kept with the books)")
        if not math.isfinite(qty) or qty == 0:
            raise InvalidStrategy("qty", f"must be a non-zero finite number, got {qty}")
        if strategy_id != DISCRETIONARY and strategy_id not in self.trading.specs:
            raise InvalidStrategy("strategy_id", f"unknown strategy {strategy_id!r} (or 'Discretionary')")
        row = next((r for r in self.last_reconciliation if r.con_id == con_id), None)
        instrument = (
            self.trading.instruments.by_con_id(con_id) if self.trading.instruments is not None else None
        )
        if row is None and instrument is None:
            raise InvalidStrategy("con_id", f"contract {con_id} is neither held nor known")
        symbol = row.symbol if row is not None else instrument.key  # type: ignore[union-attr]
        if price is None:
            held = [p for p in self.trading.portfolio.positions() if p.con_id == con_id and p.qty]
            price = (
                held[0].avg_cost
                if held
                else (self.trading.feed.last_price(con_id) if self.trading.feed else None) or 0.0
            )
        booking = Booking(
            booking_id=str(ULID()),
            con_id=ConId(con_id),
            symbol=symbol,
            strategy_id=StrategyId(strategy_id),
            qty=qty,
            price=price,
            by=by,
            reason=reason,
            at=datetime.now(UTC),
            currency=instrument.currency if instrument is not None else "USD",
            multiplier=instrument.multiplier if instrument is not None else 1.0,
        )
        await self.trading.journal.record_booking(booking)
        await self.trading.portfolio.ask(Book(booking))
        log.warning(
            "booking.recorded", booking_id=booking.booking_id, con_id=con_id, qty=qty, by=by, reason=reason
        )
        try:
            return booking, await self.reconcile(f"after booking {booking.booking_id}")
        except PositionsUnknown:  # booked and journaled; it is measured at the reconnect's reconciliation
            return booking, self.last_reconciliation

    async def reconcile_after_reconnect(self, client: ManagedClient) -> None:
        if client.connects > 1:
            engine = self.trading.engine
            if engine is not None:
                try:  # IB's positions come through the engine's client, which may still be reconnecting
                    await self.trading._hub(engine).engine.wait_connected(RECONNECT_WAIT_S)
                except TimeoutError:
                    log.warning("positions.reconcile_skipped", reason="engine client not reconnected")
                    return
            trades = self.trading.trades
            if trades is not None:
                # Orders that filled or were cancelled while we were away send no status again: ask IB
                # (open + completed orders), else they stay "working" for ever and their contract is
                # never reconciled. The barrier lets the TradeManager fold what it heard first.
                await trades.rebuild()
                await trades.ask(Drain())
            await self.reconcile("after reconnect")

    async def reconcile_hourly(self) -> None:
        while True:
            await asyncio.sleep(3600)
            try:
                await self.reconcile("hourly")
            except Exception as exc:
                log.error("positions.reconcile_failed", error=repr(exc))

    async def kill_switch(
        self, *, engaged: bool = True, strategy_id: str | None = None, reason: str = ""
    ) -> list[str]:
        """No new orders, open orders cancelled through their owning clients, strategies stopped.

        The global switch also sends ``reqGlobalCancel``, which cancels orders typed into TWS as well.
        Releasing it allows new orders again; stopped strategies stay stopped until started.
        """
        engine, trades, risk = self.trading.engine, self.trading.trades, self.trading.risk
        if engine is None or trades is None or risk is None:
            raise RuntimeError("live trading has not started")
        if not engaged:
            if strategy_id is None:
                risk.killed, risk.kill_reason = False, ""
            else:
                risk.killed_strategies.pop(strategy_id, None)
            engine.bus.publish(KillSwitchChanged(engaged=False, strategy_id=strategy_id, reason=reason))
            return []
        if strategy_id is None:
            risk.killed, risk.kill_reason = True, reason
        else:
            risk.killed_strategies[strategy_id] = reason
        engine.bus.publish(KillSwitchChanged(engaged=True, strategy_id=strategy_id, reason=reason))
        cancelled: list[str] = await trades.ask(CancelAll(strategy_id=strategy_id), timeout=10)
        if strategy_id is None:
            hub = self.trading._hub(engine)
            if hub.engine.ib is not None and hub.engine.connected:
                hub.engine.ib.reqGlobalCancel()  # also orders whose client is gone, and TWS's own
        targets = (
            list(self.trading.actors)
            if strategy_id is None
            else [strategy_id]
            if strategy_id in self.trading.actors
            else []
        )
        for sid in targets:
            await self.trading.stop_strategy(sid, f"kill switch: {reason or 'engaged'}")
        log.warning("risk.kill_switch", strategy_id=strategy_id, reason=reason, cancelled=len(cancelled))
        return cancelled
