"""SimServer: the listening socket, the clientId registry, and routing of exchange events like real TWS.

Order events go to the owning client and to the master client; positions and account values go to
whoever subscribed. Orders outlive their client's socket; only subscriptions die with it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from . import outbound as out
from .clock import Clock, Timer, VirtualClock
from .contracts import ContractBook, default_contracts
from .control import Control
from .events import (
    ExchangeEvent,
    ExecutionCorrected,
    OrderCancelled,
    OrderChanged,
    OrderFilled,
    OrderRejected,
    PositionChanged,
    PricesMoved,
    WhatIfAnswered,
)
from .exchange import Exchange, ExchangeConfig
from .faults import Faults
from .feeds import Feeds
from .market import Market
from .orders import CommissionReport, OrderView
from .outbound import Fields
from .prices import PriceWalk
from .session import Session

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("mats.sim.server")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything `mats sim` can be told; tests override single fields (`SimServer(port=0, ...)`)."""

    host: str = "127.0.0.1"
    port: int = 7497
    account: str = "DU0000001"
    seed: int = 1
    master_client_id: int = 99
    max_clients: int = 32
    speed: float = 1.0  # virtual seconds per wall second (60: a minute per second)
    start: str = ""  # ISO time the virtual clock starts at ("" : now, or the first replayed bar)
    day_end: str = "16:00"  # New York time DAY orders expire ("" : never by themselves)
    pacing: bool = False  # enforce IB's pacing limits (error 100, 162, 420)
    admin_port: int | None = None  # loopback HTTP admin endpoint (0: any free port)
    fill_latency: float = 0.0
    fill_slices: int = 1
    price_interval: float = 1.0  # seconds between random-walk steps; 0 freezes prices
    account_push_interval: float = 0.25  # coalescing delay for account, portfolio and PnL pushes
    initial_cash: float = 1_000_000.0
    base_currency: str = "USD"

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be {rule}, got {value!r}"
            for name, value, ok, rule in (
                ("max_clients", self.max_clients, self.max_clients >= 1, "at least 1"),
                ("fill_slices", self.fill_slices, self.fill_slices >= 1, "at least 1"),
                ("speed", self.speed, self.speed > 0, "positive"),
                ("fill_latency", self.fill_latency, self.fill_latency >= 0, "zero or more"),
                ("price_interval", self.price_interval, self.price_interval >= 0, "zero or more"),
                (
                    "account_push_interval",
                    self.account_push_interval,
                    self.account_push_interval >= 0,
                    "zero or more",
                ),
                ("port", self.port, 0 <= self.port <= 65535, "a TCP port"),
                ("start", self.start, _valid_start(self.start), "an ISO date/time"),
                ("day_end", self.day_end, _valid_hhmm(self.day_end), "HH:MM"),
                ("account", self.account, bool(self.account), "non-empty"),
            )
            if not ok
        ]
        if problems:
            raise ValueError("invalid simulator settings: " + "; ".join(problems))


class SimServer:
    """A TWS-API wire-compatible gateway on one asyncio loop."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        clock: Clock | None = None,
        bars: Mapping[str, pd.DataFrame] | None = None,
        **options: Any,
    ) -> None:
        self.config = replace(config or SimConfig(), **options)
        cfg = self.config
        self.account = cfg.account
        self.master_client_id = cfg.master_client_id
        self.pacing = cfg.pacing
        self.clock: Clock = clock or VirtualClock(_start_time(cfg.start, bars), cfg.speed)
        self.contracts = ContractBook(default_contracts(self.clock.now().date()))
        self.prices = PriceWalk(self.contracts, cfg.seed)
        exchange_config = ExchangeConfig(
            account=cfg.account,
            base_currency=cfg.base_currency,
            initial_cash=cfg.initial_cash,
            seed=cfg.seed,
            fill_latency=cfg.fill_latency,
            fill_slices=cfg.fill_slices,
        )
        self.exchange = Exchange(exchange_config, self.contracts, self.prices, self.clock, self._route)
        self.market = Market(self.contracts, self.prices, self.clock, cfg.seed, self.exchange.set_price)
        self.feeds = Feeds(self)
        self.faults = Faults(self)
        self.port = cfg.port
        self._server: asyncio.Server | None = None
        self._sessions: dict[Session, asyncio.Task[None]] = {}
        self._clients: dict[int, Session] = {}
        self._lingering: dict[int, Timer] = {}
        self._session_numbers = 0
        self._walk: Timer | None = None
        self._day_end: Timer | None = None
        self._running = False
        self._account_flush: asyncio.Handle | None = None
        self._departures: list[asyncio.Future[None]] = []
        self._pending_bars = dict(bars or {})
        self._held: list[ExchangeEvent] | None = None
        self.admin: Any = None
        self.control = Control(self)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen; after a `stop()` this is a Gateway restart: same port, same orders, fills and ids."""
        if not self._running:
            self._running = True
            for symbol, frame in self._pending_bars.items():
                self.market.load_bars(self.contracts.by_symbol(symbol).con_id, frame)
            self._pending_bars.clear()
            self._schedule_walk()
            self._schedule_day_end()
            self.feeds.start()
            if self.config.admin_port is not None and self.admin is None:
                from .admin import AdminServer

                self.admin = AdminServer(self, self.config.host, self.config.admin_port)
                await self.admin.start()
        await self.come_up()

    async def come_up(self) -> None:
        """Listen on the port again (the end of a Gateway restart)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, self.config.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "sim.listening host=%s port=%s account=%s master_client_id=%s max_clients=%s seed=%s",
            self.config.host, self.port, self.account, self.master_client_id, self.config.max_clients,
            self.config.seed,
        )  # fmt: skip

    async def go_down(self) -> None:
        """Close every socket and stop listening; the market, orders and fills go on meanwhile."""
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.close()
        tasks = list(self._sessions.values())
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        for timer in self._lingering.values():
            timer.cancel()
        self._lingering.clear()
        log.info("sim.stopped port=%s", self.port)

    async def stop(self) -> None:
        """Close every socket, stop listening and stop time-driven work; all state is kept."""
        self._running = False
        for timer in (self._walk, self._day_end):
            if timer is not None:
                timer.cancel()
        self._walk = self._day_end = None
        self.feeds.stop()
        if self._account_flush is not None:
            self._account_flush.cancel()
            self._account_flush = None
        await self.go_down()
        if self.admin is not None:
            await self.admin.stop()
            self.admin = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._session_numbers += 1
        session = Session(self, reader, writer, self._session_numbers)
        task = asyncio.current_task()
        assert task is not None
        self._sessions[session] = task
        try:
            await session.run()
        finally:
            self._sessions.pop(session, None)

    def _schedule_walk(self) -> None:
        interval = self.config.price_interval
        if interval <= 0:
            return

        def step() -> None:
            self._walk = self.clock.call_later(interval, step)
            self.exchange.step_prices()

        self._walk = self.clock.call_later(interval, step)

    def _schedule_day_end(self) -> None:
        """DAY orders expire at the session close on the virtual clock, every day."""
        if not self.config.day_end:
            return
        zone = ZoneInfo("America/New_York")
        now = self.clock.now().astimezone(zone)
        hour, minute = (int(x) for x in self.config.day_end.split(":"))
        close = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if close <= now:
            close += dt.timedelta(days=1)

        def expire() -> None:
            expired = self.exchange.end_of_day()
            log.info("sim.day_end expired=%s", expired)
            self._schedule_day_end()

        self._day_end = self.clock.call_later((close - now).total_seconds(), expire)

    def load_bars(self, symbol: str, frame: pd.DataFrame) -> None:
        """Replay `frame` (open/high/low/close[/volume], indexed by bar start) as `symbol`'s prices."""
        con_id = self.contracts.by_symbol(symbol).con_id
        if self._running:
            self.market.load_bars(con_id, frame)
        else:
            self._pending_bars[symbol] = frame

    @property
    def running(self) -> bool:
        """Between `start()` and `stop()` (a fault restart's downtime counts as running)."""
        return self._running

    def hold_order_events(self) -> None:
        """Queue order events (fills, statuses, positions) instead of sending them: IB during a reset."""
        if self._held is None:
            self._held = []

    def release_order_events(self) -> None:
        held, self._held = self._held or [], None
        for event in held:
            self._route(event)

    def sessions(self) -> Iterable[Session]:
        return list(self._clients.values())

    def broadcast(self, fields: Fields) -> None:
        for session in self._clients.values():
            session.send(fields)

    # ------------------------------------------------------- client registry

    def register(self, session: Session, client_id: int) -> tuple[int, str] | None:
        """None when the clientId may connect, else the (code, text) TWS answers before closing."""
        if client_id in self._clients or client_id in self._lingering:
            return 326, "Unable to connect as the client id is already in use. Retry with a unique client id."
        if len(self._clients) >= self.config.max_clients:
            return 502, (
                f"Couldn't connect to TWS: the maximum number of API clients ({self.config.max_clients}) "
                "is already connected."
            )
        self._clients[client_id] = session
        return None

    def unregister(self, session: Session) -> None:
        client_id = session.client_id
        if client_id is not None and self._clients.get(client_id) is session:
            del self._clients[client_id]
            if self.faults.linger > 0 and self._server is not None:
                log.info("sim.client_id_lingers client_id=%s seconds=%s", client_id, self.faults.linger)
                self._lingering[client_id] = self.clock.call_later(
                    self.faults.linger, lambda: self._release(client_id)
                )
                return
            self._notify_departures()

    def _release(self, client_id: int) -> None:
        if self._lingering.pop(client_id, None) is not None:
            self._notify_departures()

    def _notify_departures(self) -> None:
        waiters, self._departures = self._departures, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_disconnected(self, client_id: int) -> None:
        """Return once `client_id` holds no connection (TWS frees an id only when it sees the socket go)."""
        while client_id in self._clients or client_id in self._lingering:
            waiter = asyncio.get_running_loop().create_future()
            self._departures.append(waiter)
            await waiter

    def connected_client_ids(self) -> list[int]:
        return sorted(self._clients)

    def conn_time(self) -> str:
        return self.clock.now().strftime("%Y%m%d %H:%M:%S") + " UTC"

    # --------------------------------------------------------------- routing

    def _audience(self, order: OrderView) -> list[Session]:
        """Owner (or, for manual orders, client 0) plus the master client, each once."""
        ids = [0 if order.is_manual else order.client_id, self.master_client_id]
        sessions: list[Session] = []
        for client_id in ids:
            session = self._clients.get(client_id)
            if session is not None and session not in sessions:
                sessions.append(session)
        return sessions

    def _owner(self, order: OrderView) -> Session | None:
        return None if order.is_manual else self._clients.get(order.client_id)

    def _route(self, event: ExchangeEvent) -> None:
        if self._held is not None and not isinstance(event, PricesMoved):
            self._held.append(event)  # a nightly reset delays order events until it ends
            return
        match event:
            case OrderChanged(order=order):
                for s in self._audience(order):
                    s.send(out.open_order(order, s.server_version))
                    s.send(out.order_status(order))
            case OrderFilled(order=order, execution=execution, report=report):
                self.market.record(execution.contract.con_id, float(execution.shares))
                audience = self._audience(order)
                twice = self.faults.duplicates > 0
                if twice:
                    self.faults.duplicates -= 1
                for s in audience:
                    s.send(out.exec_details(-1, execution, s.server_version))
                    if twice:
                        s.send(out.exec_details(-1, execution, s.server_version))
                    s.send(out.open_order(order, s.server_version))
                    s.send(out.order_status(order))
                self._send_report(audience, report)
            case ExecutionCorrected(order=order, execution=execution, report=report):
                audience = self._audience(order)
                for s in audience:
                    s.send(out.exec_details(-1, execution, s.server_version))
                self._send_report(audience, report)
            case OrderRejected(order=order, reason=reason):
                owner = self._owner(order)
                if owner is not None:
                    owner.send(out.error(order.order_id, 201, f"Order rejected - reason:{reason}"))
                for s in self._audience(order):
                    s.send(out.open_order(order, s.server_version))
                    s.send(out.order_status(order))
            case OrderCancelled(order=order, reason=reason):
                for s in self._audience(order):
                    s.send(out.order_status(order))
                owner = self._owner(order)
                if owner is not None:
                    owner.send(out.error(order.order_id, 202, f"Order Canceled - reason:{reason}"))
            case WhatIfAnswered(order=order, margins=margins):
                owner = self._owner(order)
                if owner is not None:
                    owner.send(out.open_order(order, owner.server_version, margins))
            case PositionChanged(con_id=con_id):
                for s in self._clients.values():
                    s.push_position(con_id)
                self._schedule_account_push()
            case PricesMoved(con_ids=con_ids, size=size):
                for con_id in con_ids:
                    self.market.record(con_id, size)
                self.feeds.prices_moved(con_ids)
                self._schedule_account_push()

    def _send_report(self, audience: list[Session], report: CommissionReport) -> None:
        """Commission reports follow their execution, or come late when that fault is on."""
        if self.faults.commission_delay <= 0:
            for s in audience:
                s.send(out.commission_report(report))
            return

        def late() -> None:
            for s in audience:
                s.send(out.commission_report(report))

        self.clock.call_later(self.faults.commission_delay, late)

    def _schedule_account_push(self) -> None:
        if self._account_flush is None and self._clients:
            loop = asyncio.get_running_loop()
            self._account_flush = loop.call_later(self.config.account_push_interval, self._push_accounts)

    def _push_accounts(self) -> None:
        self._account_flush = None
        for session in self._clients.values():
            session.push_all_account_streams()


def _valid_start(text: str) -> bool:
    try:
        _parse_start(text)
    except ValueError:
        return False
    return True


def _parse_start(text: str) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _valid_hhmm(text: str) -> bool:
    if not text:
        return True
    hour, _, minute = text.partition(":")
    return hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60


def _start_time(start: str, bars: Mapping[str, pd.DataFrame] | None) -> dt.datetime | None:
    """The configured start, else the first replayed bar's start, else now."""
    moment = _parse_start(start)
    if moment is not None or not bars:
        return moment
    from .tape import Replay

    first = min(Replay.from_frame(frame).head for frame in bars.values())
    return dt.datetime.fromtimestamp(first, dt.UTC)
