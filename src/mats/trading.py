"""LiveTrading: the engine component that wires the live path together.

journal → (IB clients, from the IBHub) → recorder (client 99) → PortfolioManager → strategies;
strategies → LiveBroker → TradeManager → the strategy's own IB client. It registers strategies (from
``[[strategies]]`` or the API), starts and stops their actors, and routes order statuses and fills to
the strategy that owns them. Every piece is a separate actor; this only connects them.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import msgspec
import structlog
from ulid import ULID

from mats.actors.portfolio import Book, PortfolioManager, ReconcileWith
from mats.actors.recorder import Recorder
from mats.actors.strategy import (
    FillUpdate,
    InvalidStrategy,
    OrderStatusUpdate,
    StrategyActor,
    load_strategy_class,
)
from mats.actors.trades import CancelAll, TradeManager
from mats.brokers.live import LiveBroker
from mats.brokers.schedule import ScheduledJob
from mats.ib.connection import ManagedClient
from mats.ib.contracts import IBInstrumentResolver
from mats.marketdata.aggregate import parse_bar_size
from mats.marketdata.feed import RealTimeBarFeed
from mats.messages import AlertRaised, Drain, KillSwitchChanged, PositionsReconciled
from mats.model import DISCRETIONARY, Booking, ConId, Fill, OrderStatus, StrategyId, StrategySpec
from mats.reconcile import ContractReconciliation, lock_reason
from mats.risk import RiskState
from mats.storage import load_strategy_specs, save_strategy_specs
from mats.store.flusher import Flusher
from mats.store.journal import Durability, Journal

if TYPE_CHECKING:
    from mats.engine import Engine
    from mats.ib.hub import IBHub

log = structlog.get_logger("mats.trading")


class StrategyView(msgspec.Struct, frozen=True):
    spec: StrategySpec
    status: str
    client_id: int | None
    reason: str = ""


class LiveTrading:
    name = "trading"

    def __init__(self, journal_path: str | Path | None = None) -> None:
        self.journal_path = journal_path
        self.engine: Engine | None = None
        self.journal: Journal | None = None
        self.instruments: IBInstrumentResolver | None = None
        self.portfolio: PortfolioManager | None = None
        self.trades: TradeManager | None = None
        self.recorder: Recorder | None = None
        self.broker: LiveBroker | None = None
        self.specs: dict[str, StrategySpec] = {}
        self.actors: dict[str, StrategyActor] = {}
        self.status: dict[str, tuple[str, str]] = {}
        # A restarted strategy comes back on its old clientId: only that client may touch its orders.
        self.client_ids: dict[str, int] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self.flusher: Flusher | None = None
        self.feed: RealTimeBarFeed | None = None
        self.risk: RiskState | None = None
        self.last_reconciliation: list[ContractReconciliation] = []
        self._hourly: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self.account = ""

    # --- Component protocol -------------------------------------------------------------------------

    async def start(self, engine: Engine) -> None:
        hub = self._hub(engine)
        self.engine = engine
        settings = engine.settings
        path = Path(self.journal_path or Path(settings.data_dir) / "journal.sqlite")
        self.journal = await Journal(path, durability=Durability(settings.storage.journal_synchronous)).open()
        if hub.engine.ib is None or not hub.engine.connected:
            raise RuntimeError("live trading needs the engine's IB client connected first")
        self.instruments = IBInstrumentResolver(hub.engine.ib, timeout=settings.ib.request_timeout)
        self.feed = RealTimeBarFeed(hub.engine, bus=engine.bus, pacing=hub.pacing.realtime_bars)
        sup, bus = engine.supervisor, engine.bus
        self.portfolio = PortfolioManager(
            bus=bus, base_currency=settings.base_currency, route=self._route_fill
        )
        self.portfolio.replay(
            await self.journal.current_fills(), bookings=await self.journal.current_bookings()
        )
        await sup.spawn(self.portfolio)
        self.recorder = Recorder(self.journal, hub.recorder, bus=bus, forward=self.portfolio.tell)
        await sup.spawn(self.recorder)
        if hub.recorder.connected:
            await self.recorder._catch_up(hub.recorder)  # connected before the recorder existed
        feed = self.feed
        self.risk = RiskState(lambda: engine.settings.risk, price_of=feed.last_price)
        self.trades = TradeManager(
            hub,
            self.journal,
            self.instruments,
            bus=bus,
            route=self._route_status,
            account=settings.ib.account,
            risk=self.risk,
            request_timeout=settings.ib.request_timeout,
            owner_client=lambda sid: hub.client_for(sid, preferred=self.client_ids.get(sid)),
        )
        await sup.spawn(self.trades)
        trades, portfolio = self.trades, self.portfolio
        self.broker = LiveBroker(
            self.instruments,
            ask_trades=lambda command: trades.ask(command, timeout=60),
            total_equity=lambda: self._net_liquidation(hub, settings.base_currency),
            position_of=portfolio.position,
            base_currency=settings.base_currency,
            schedule=self._schedule,
            deliver=self._route_status_sync,
        )
        self.account = settings.ib.account or next(iter(hub.engine.ib.managedAccounts()), "")
        if engine.store is not None:
            await self._start_flusher(engine)
            for stored, client_id in await load_strategy_specs(engine.store):
                self._register_quietly(stored)
                if client_id is not None:
                    self.client_ids[stored.strategy_id] = client_id
        for spec in settings.strategies:  # the settings file wins over what was stored
            self.specs.pop(spec.strategy_id, None)
            self.register(spec)
        self.persist_soon()
        await self.reconcile("start-up")
        hub.recorder.on_connected.append(self._reconcile_after_reconnect)  # after the recorder's catch-up
        self._hourly = asyncio.create_task(self._reconcile_hourly(), name="reconcile-hourly")
        for spec in list(self.specs.values()):
            if spec.autostart:
                await self.start_strategy(spec.strategy_id)

    async def stop(self) -> None:
        if self._hourly is not None:
            self._hourly.cancel()
        for strategy_id in list(self.actors):
            await self.stop_strategy(strategy_id, "engine shutdown")
        # Producers before consumers, and all of them before the journal they write to closes.
        for actor in (self.trades, self.recorder, self.portfolio):
            if actor is not None:
                await actor.stop("engine shutdown")
        if self.feed is not None:
            await self.feed.close()
        for task in list(self._tasks):
            await asyncio.wait([task], timeout=5)
        if self.flusher is not None:
            if self._flush_task is not None:
                self._flush_task.cancel()
            try:
                with anyio.fail_after(10):
                    await self.flusher.flush_once()  # what is committed reaches ArcticDB before we go
            except Exception as exc:
                log.warning(
                    "flush.final_failed", error=repr(exc), kept="the journal keeps it; replayed at start"
                )
        if self.journal is not None:
            await self.journal.close()

    # --- reconciliation and the kill switch ------------------------------------------------------------

    async def reconcile(self, reason: str = "on demand") -> list[ContractReconciliation]:
        """IB's positions against the books, with the fills already received booked first (DESIGN §5)."""
        engine, portfolio, recorder, trades = self.engine, self.portfolio, self.recorder, self.trades
        if engine is None or portfolio is None or recorder is None or trades is None or self.risk is None:
            raise RuntimeError("live trading has not started")
        ib = self._hub(engine).engine.ib
        if ib is None:
            raise RuntimeError("the engine's IB client is not connected")
        net: dict[int, tuple[str, float]] = {}
        for item in ib.positions(self.account) if self.account else ib.positions():
            symbol, qty = net.get(
                item.contract.conId, (item.contract.localSymbol or item.contract.symbol, 0.0)
            )
            net[item.contract.conId] = (symbol, qty + float(item.position))
        await recorder.ask(Drain())  # every execution received so far is journaled and forwarded...
        rows: list[ContractReconciliation] = await portfolio.ask(
            ReconcileWith(ib_positions=net, in_flight=frozenset(trades.open_con_ids()))
        )  # ...and booked, since the portfolio handles its mailbox in order
        before = set(self.risk.locks)
        self.risk.locks = {row.con_id: lock_reason(row) for row in rows if row.locked}
        for row in rows:
            if row.locked and row.con_id not in before:
                engine.bus.publish(
                    AlertRaised(kind="lock", message=lock_reason(row), data={"con_id": row.con_id})
                )
        for con_id in before - set(self.risk.locks):
            engine.bus.publish(
                AlertRaised(
                    kind="unlock", message=f"contract {con_id} reconciles again", data={"con_id": con_id}
                )
            )
        self.last_reconciliation = rows
        engine.bus.publish(PositionsReconciled(reason=reason, rows=[msgspec.to_builtins(r) for r in rows]))
        log.info("positions.reconciled", reason=reason, contracts=len(rows), locked=len(self.risk.locks))
        return rows

    async def book(
        self, *, con_id: int, strategy_id: str, qty: float, reason: str, by: str, price: float | None = None
    ) -> tuple[Booking, list[ContractReconciliation]]:
        """An operator attributes shares IB reports to a strategy or to Discretionary; journaled first."""
        if self.journal is None or self.portfolio is None:
            raise RuntimeError("live trading has not started")
        if not reason.strip():
            raise InvalidStrategy("reason", "a booking needs a reason (it is kept with the books)")
        if not math.isfinite(qty) or qty == 0:
            raise InvalidStrategy("qty", f"must be a non-zero finite number, got {qty}")
        if strategy_id != DISCRETIONARY and strategy_id not in self.specs:
            raise InvalidStrategy("strategy_id", f"unknown strategy {strategy_id!r} (or 'Discretionary')")
        row = next((r for r in self.last_reconciliation if r.con_id == con_id), None)
        instrument = self.instruments.by_con_id(con_id) if self.instruments is not None else None
        if row is None and instrument is None:
            raise InvalidStrategy("con_id", f"contract {con_id} is neither held nor known")
        symbol = row.symbol if row is not None else instrument.key  # type: ignore[union-attr]
        if price is None:
            held = [p for p in self.portfolio.positions() if p.con_id == con_id and p.qty]
            price = held[0].avg_cost if held else (self.feed.last_price(con_id) if self.feed else None) or 0.0
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
        await self.journal.record_booking(booking)
        await self.portfolio.ask(Book(booking))
        log.warning(
            "booking.recorded", booking_id=booking.booking_id, con_id=con_id, qty=qty, by=by, reason=reason
        )
        return booking, await self.reconcile(f"after booking {booking.booking_id}")

    async def _reconcile_after_reconnect(self, client: ManagedClient) -> None:
        if client.connects > 1:
            await self.reconcile("after reconnect")

    async def _reconcile_hourly(self) -> None:
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
        engine, trades, risk = self.engine, self.trades, self.risk
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
            hub = self._hub(engine)
            if hub.engine.ib is not None and hub.engine.connected:
                hub.engine.ib.reqGlobalCancel()  # also orders whose client is gone, and TWS's own
        targets = (
            list(self.actors) if strategy_id is None else [strategy_id] if strategy_id in self.actors else []
        )
        for sid in targets:
            await self.stop_strategy(sid, f"kill switch: {reason or 'engaged'}")
        log.warning("risk.kill_switch", strategy_id=strategy_id, reason=reason, cancelled=len(cancelled))
        return cancelled

    # --- strategies -----------------------------------------------------------------------------------

    async def _start_flusher(self, engine: Engine) -> None:
        assert engine.store is not None and self.journal is not None
        bus = engine.bus

        def degraded(is_degraded: bool, reason: str) -> None:
            message = (
                f"ArcticDB unavailable, the journal keeps every fill: {reason}"
                if is_degraded
                else "ArcticDB back"
            )
            bus.publish(AlertRaised(kind="degraded_storage", message=message, data={"degraded": is_degraded}))

        self.flusher = Flusher(self.journal, engine.store, self.account or "account", on_degraded=degraded)
        try:
            await self.flusher.recover()
        except Exception as exc:  # storage down at start: the flusher retries in its loop
            degraded(True, repr(exc))
        self._flush_task = asyncio.create_task(self.flusher.run(), name="flusher")

    def persist_soon(self) -> None:
        """Write the registry to ``general/strategies`` in the background (this engine is its one writer)."""
        if self.engine is None or self.engine.store is None:
            return
        store = self.engine.store
        specs = list(self.specs.values())
        statuses = {sid: status for sid, (status, _) in self.status.items()}
        client_ids = dict(self.client_ids)

        async def save() -> None:
            try:
                await save_strategy_specs(store, specs, statuses, client_ids)
            except Exception as exc:
                log.error("strategies.save_failed", error=repr(exc))

        task = asyncio.ensure_future(save())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _register_quietly(self, spec: StrategySpec) -> None:
        try:
            self.register(spec)
        except ValueError as exc:  # a stored strategy whose class is gone: keep the engine starting
            log.error("strategy.stored_unloadable", strategy_id=spec.strategy_id, error=str(exc))

    def register(self, spec: StrategySpec) -> StrategySpec:
        load_strategy_class(spec.cls)  # refuse what cannot be loaded now, not when it is started
        try:
            parse_bar_size(spec.bar_size)
        except ValueError as exc:
            raise InvalidStrategy("bar_size", str(exc)) from None
        if spec.strategy_id in self.actors:
            raise ValueError(f"strategy {spec.strategy_id!r} is running; stop it before changing it")
        self.specs[spec.strategy_id] = spec
        self.status.setdefault(spec.strategy_id, ("registered", ""))
        return spec

    async def start_strategy(self, strategy_id: str) -> StrategyActor:
        engine, broker, instruments = self.engine, self.broker, self.instruments
        if engine is None or broker is None or instruments is None:
            raise RuntimeError("live trading has not started")
        spec = self.specs.get(strategy_id)
        if spec is None:
            raise KeyError(f"unknown strategy {strategy_id!r}")
        running = self.actors.get(strategy_id)
        if running is not None and running.running:
            return running
        hub = self._hub(engine)
        qualified = [await instruments.qualify(symbol) for symbol in spec.symbols]
        preferred = spec.client_id if spec.client_id is not None else self.client_ids.get(strategy_id)
        client = await hub.client_for(strategy_id, preferred=preferred)
        self.client_ids[strategy_id] = client.client_id
        actor = StrategyActor(
            spec,
            broker,
            instruments=qualified,
            bus=engine.bus,
            on_stopped=self._strategy_stopped,
            feed=self.feed,
        )
        self.actors[strategy_id] = actor
        await engine.supervisor.spawn(actor)
        self.status[strategy_id] = ("running", "")
        self.persist_soon()
        log.info("strategy.started", strategy_id=strategy_id, client_id=hub.allocator.client_of(strategy_id))
        return actor

    async def stop_strategy(self, strategy_id: str, reason: str = "requested") -> None:
        actor = self.actors.get(strategy_id)
        if actor is None:
            raise KeyError(f"strategy {strategy_id!r} is not running")
        await actor.stop(reason)

    def views(self) -> list[StrategyView]:
        out = []
        for strategy_id, spec in self.specs.items():
            status, reason = self.status.get(strategy_id, ("registered", ""))
            client_id = self.client_ids.get(strategy_id)
            out.append(StrategyView(spec=spec, status=status, client_id=client_id, reason=reason))
        return out

    # --- routing --------------------------------------------------------------------------------------

    async def _route_fill(self, strategy_id: str, fill: Fill) -> None:
        actor = self.actors.get(strategy_id)
        if actor is not None and actor.running:
            await actor.tell(FillUpdate(fill))

    async def _route_status(self, strategy_id: str, status: OrderStatus) -> None:
        self._route_status_sync(status)

    def _route_status_sync(self, status: OrderStatus) -> None:
        actor = self.actors.get(status.strategy_id)
        if actor is not None and actor.running:
            actor.tell_nowait(OrderStatusUpdate(status))
        elif self.broker is not None:
            self.broker.on_status(status)  # the handle still learns how its order ended

    def _schedule(self, job: ScheduledJob) -> None:
        actor = self.actors.get(job.strategy_id)
        if actor is None:
            raise RuntimeError(f"strategy {job.strategy_id!r} is not running")
        actor.schedule(job)

    def _strategy_stopped(self, strategy_id: str, reason: str) -> None:
        failed = reason.startswith(("failed", "stopped:"))
        self.status[strategy_id] = ("failed" if failed else "stopped", reason)
        self.actors.pop(strategy_id, None)
        self.persist_soon()
        if self.engine is not None and self.engine.hub is not None:
            # Its client closes unless another strategy shares it; resting orders keep working at IB and
            # their fills still reach the journal through the master client.
            task = asyncio.ensure_future(self.engine.hub.release(strategy_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # --- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _hub(engine: Engine) -> IBHub:
        if engine.hub is None:
            raise RuntimeError("live trading needs the engine's IBHub")
        return engine.hub

    @staticmethod
    def _net_liquidation(hub: IBHub, base_currency: str) -> float:
        """NetLiquidation in the base currency, from the engine client's account updates."""
        ib = hub.engine.ib
        if ib is None:
            return 0.0
        for value in ib.accountValues():
            if value.tag == "NetLiquidation" and value.currency in (base_currency, "BASE"):
                return float(value.value)
        return 0.0
