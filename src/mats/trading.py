"""LiveTrading: the engine component that wires the live path together.

journal → (IB clients, from the IBHub) → recorder (client 99) → PortfolioManager → strategies;
strategies → LiveBroker → TradeManager → the strategy's own IB client. It registers strategies (from
``[[strategies]]`` or the API), starts and stops their actors, and routes order statuses and fills to
the strategy that owns them. Every piece is a separate actor; this only connects them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import msgspec
import structlog

from mats.actors.portfolio import PortfolioManager
from mats.actors.recorder import Recorder
from mats.actors.strategy import (
    FillUpdate,
    InvalidStrategy,
    OrderStatusUpdate,
    StrategyActor,
    load_strategy_class,
)
from mats.actors.trades import TradeManager
from mats.brokers.live import LiveBroker
from mats.brokers.schedule import ScheduledJob
from mats.controls import START_UP, AccountControls, PositionsUnknown
from mats.daily_loss import DailyLossGuard
from mats.equity import EquityTracker
from mats.fx import FXCache
from mats.ib.contracts import IBInstrumentResolver
from mats.marketdata.aggregate import parse_bar_size
from mats.marketdata.feed import RealTimeBarFeed
from mats.messages import AlertRaised
from mats.model import Booking, Fill, OrderStatus, StrategySpec
from mats.reconcile import ContractReconciliation
from mats.risk import RiskState
from mats.snapshots import SnapshotKind, SnapshotSchedule, write_snapshots
from mats.storage import load_strategy_specs, save_strategy_specs
from mats.store.flusher import Flusher
from mats.store.journal import Durability, Journal
from mats.valuation import AccountValuation

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
        self.fx: FXCache | None = None
        self.risk: RiskState | None = None
        self.valuation: AccountValuation | None = None
        self.controls = AccountControls(self)
        self._hourly: asyncio.Task[None] | None = None
        self._equity_task: asyncio.Task[None] | None = None
        self._snapshots: asyncio.Task[None] | None = None
        self.snapshots: SnapshotSchedule | None = None  # hourly and end-of-day (tests tick it)
        self.equity: EquityTracker | None = None
        self.daily_loss: DailyLossGuard | None = None
        self._daily_loss_task: asyncio.Task[None] | None = None
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
        self.fx = FXCache(hub.engine.ib)
        sup, bus = engine.supervisor, engine.bus
        self.portfolio = PortfolioManager(
            bus=bus, base_currency=settings.base_currency, route=self._route_fill
        )
        self.portfolio.replay(
            await self.journal.current_fills(), bookings=await self.journal.current_bookings()
        )
        await sup.spawn(self.portfolio)
        valuation = self.valuation = AccountValuation(
            hub.engine, self.portfolio, self.fx, settings.base_currency
        )
        self.recorder = Recorder(self.journal, hub.recorder, bus=bus, forward=self.portfolio.tell)
        await sup.spawn(self.recorder)
        if hub.recorder.connected:
            await self.recorder._catch_up(hub.recorder)  # connected before the recorder existed
        feed = self.feed
        portfolio = self.portfolio
        self.risk = RiskState(
            lambda: engine.settings.risk,
            price_of=feed.last_price,
            position_of=portfolio.position,
            strategy_limits=lambda sid: getattr(self.specs.get(sid), "risk", None),
        )
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
        for ref, record in self.trades.orders.items():  # rebuilt at start-up: they count as open
            if not record.status.state.is_done:
                self.risk.order_working(record.request, ref)
        trades = self.trades
        self.broker = LiveBroker(
            self.instruments,
            ask_trades=trades.ask_now,
            total_equity=valuation.net_liquidation,
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
        try:
            await self.reconcile(START_UP)
        except PositionsUnknown as exc:  # its client dropped meanwhile: the reconnect reconciles instead
            log.warning("positions.reconcile_skipped", reason=str(exc))
        hub.recorder.on_connected.append(self.controls.reconcile_after_reconnect)  # after its catch-up
        self._hourly = asyncio.create_task(self.controls.reconcile_hourly(), name="reconcile-hourly")
        self.equity = EquityTracker(
            valuation.net_liquidation,
            valuation.strategy_pnl,
            reset=settings.daily_pnl_reset,
            tz=settings.daily_pnl_tz,
        )
        self._equity_task = asyncio.create_task(self.equity.run(), name="equity-tracker")
        self.daily_loss = DailyLossGuard(
            self.risk,
            valuation.strategy_pnl,
            lambda sid, reason: self.kill_switch(strategy_id=sid, reason=reason),
            bus=engine.bus,
            reset=settings.daily_pnl_reset,
            tz=settings.daily_pnl_tz,
            state_file=Path(settings.data_dir) / "daily_loss.json",
        )
        self._daily_loss_task = asyncio.create_task(self.daily_loss.run(), name="daily-loss-guard")
        # The start-up snapshot was taken by the start-up reconciliation (mats.controls).
        self.snapshots = SnapshotSchedule(
            self.snapshot, reset=settings.daily_pnl_reset, tz=settings.daily_pnl_tz
        )
        self._snapshots = asyncio.create_task(self.snapshots.run(), name="snapshots")
        for spec in list(self.specs.values()):
            if spec.autostart:
                await self.start_strategy(spec.strategy_id)

    async def stop(self) -> None:
        await self.snapshot("shutdown")  # the books as they stand at shutdown
        background_tasks = (
            self._hourly, self._equity_task, self._snapshots, self._daily_loss_task
        )  # fmt: skip
        for background in background_tasks:
            if background is not None:
                background.cancel()
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
                await asyncio.wait([self._flush_task], timeout=10)
            try:
                with anyio.fail_after(10):
                    # The cancelled task's append may have landed without its bookkeeping (found by
                    # bench/chaos.py): resume from ArcticDB's last_seq, or the same rows go again and
                    # ArcticDB refuses them, losing the final flush.
                    await self.flusher.recover()
                    await self.flusher.flush_once()  # what is committed reaches ArcticDB before we go
            except Exception as exc:
                log.warning(
                    "flush.final_failed", error=repr(exc), kept="the journal keeps it; replayed at start"
                )
        if self.journal is not None:
            await self.journal.close()

    # --- account controls (reconcile, book, kill switch live in mats.controls) ------------------------

    async def reconcile(self, reason: str = "on demand") -> list[ContractReconciliation]:
        return await self.controls.reconcile(reason)

    async def book(
        self, *, con_id: int, strategy_id: str, qty: float, reason: str, by: str, price: float | None = None
    ) -> tuple[Booking, list[ContractReconciliation]]:
        return await self.controls.book(
            con_id=con_id, strategy_id=strategy_id, qty=qty, reason=reason, by=by, price=price
        )

    async def kill_switch(
        self, *, engaged: bool = True, strategy_id: str | None = None, reason: str = ""
    ) -> list[str]:
        return await self.controls.kill_switch(engaged=engaged, strategy_id=strategy_id, reason=reason)

    @property
    def last_reconciliation(self) -> list[ContractReconciliation]:
        return self.controls.last_reconciliation

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

        self.flusher = Flusher(
            self.journal,
            engine.store,
            self.account or "account",
            interval=engine.settings.storage.flush_interval_ms / 1000,
            on_degraded=degraded,
        )
        try:
            await self.flusher.recover()
            with anyio.fail_after(30):
                await self.flusher.flush_once()  # start-up replays what a crash left unflushed
        except Exception as exc:  # storage down at start: the flusher retries in its loop
            degraded(True, repr(exc))
        # The flusher also compacts what it appends (every COMPACT_AFTER_APPENDS), so appends, reads and
        # memory stay flat all day (bench/soak.py).
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
        for instrument in qualified:
            if self.fx is not None and instrument.currency != engine.settings.base_currency:
                await self.fx.watch(instrument.currency, engine.settings.base_currency)
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
        if self.broker is not None:
            self.broker.settle(status)  # the handle learns now; the strategy's callback waits its turn
        actor = self.actors.get(status.strategy_id)
        if actor is not None and actor.running:
            actor.tell_nowait(OrderStatusUpdate(status))
        elif self.broker is not None:
            self.broker.notify_status(status)

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

    async def snapshot(self, kind: SnapshotKind = "on_demand") -> int:
        """Append the books to ``{account}/portfolio`` and ``{account}/strategy_{id}`` (rows written)."""
        engine, portfolio, valuation = self.engine, self.portfolio, self.valuation
        if (
            engine is None
            or engine.store is None
            or portfolio is None
            or valuation is None
            or not self.account
        ):
            return 0
        prices = valuation.market_prices()
        equity = {sid: spec.equity for sid, spec in self.specs.items()}
        try:
            return await write_snapshots(
                engine.store,
                self.account,
                portfolio.positions(),
                prices,
                valuation.to_base,
                equity,
                kind=kind,
            )
        except Exception as exc:  # storage trouble must not stop trading; the journal has everything
            log.error("snapshots.failed", error=repr(exc))
            return 0
