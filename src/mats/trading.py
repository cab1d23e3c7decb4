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

import msgspec
import structlog

from mats.actors.portfolio import PortfolioManager
from mats.actors.recorder import Recorder
from mats.actors.strategy import FillUpdate, OrderStatusUpdate, StrategyActor, load_strategy_class
from mats.actors.trades import TradeManager
from mats.brokers.live import LiveBroker
from mats.brokers.schedule import ScheduledJob
from mats.ib.contracts import IBInstrumentResolver
from mats.model import Fill, OrderStatus, StrategySpec
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
        sup, bus = engine.supervisor, engine.bus
        self.portfolio = PortfolioManager(
            bus=bus, base_currency=settings.base_currency, route=self._route_fill
        )
        self.portfolio.replay(await self.journal.current_fills())
        await sup.spawn(self.portfolio)
        self.recorder = Recorder(self.journal, hub.recorder, bus=bus, forward=self.portfolio.tell)
        await sup.spawn(self.recorder)
        if hub.recorder.connected:
            await self.recorder._catch_up(hub.recorder)  # connected before the recorder existed
        self.trades = TradeManager(
            hub,
            self.journal,
            self.instruments,
            bus=bus,
            route=self._route_status,
            account=settings.ib.account,
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
        for spec in settings.strategies:
            self.register(spec)
        for spec in settings.strategies:
            if spec.autostart:
                await self.start_strategy(spec.strategy_id)

    async def stop(self) -> None:
        for strategy_id in list(self.actors):
            await self.stop_strategy(strategy_id, "engine shutdown")
        # Producers before consumers, and all of them before the journal they write to closes.
        for actor in (self.trades, self.recorder, self.portfolio):
            if actor is not None:
                await actor.stop("engine shutdown")
        if self.journal is not None:
            await self.journal.close()

    # --- strategies -----------------------------------------------------------------------------------

    def register(self, spec: StrategySpec) -> StrategySpec:
        load_strategy_class(spec.cls)  # refuse what cannot be loaded now, not when it is started
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
            spec, broker, instruments=qualified, bus=engine.bus, on_stopped=self._strategy_stopped
        )
        self.actors[strategy_id] = actor
        await engine.supervisor.spawn(actor)
        self.status[strategy_id] = ("running", "")
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
