"""SimServer: the listening socket, the clientId registry, and routing of exchange events like real TWS.

Order events go to the owning client and to the master client; positions and account values go to
whoever subscribed. Orders outlive their client's socket; only subscriptions die with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from . import outbound as out
from .clock import Clock, WallClock
from .contracts import ContractBook, default_contracts
from .control import Control
from .events import (
    ExchangeEvent,
    OrderCancelled,
    OrderChanged,
    OrderFilled,
    OrderRejected,
    PositionChanged,
    PricesMoved,
    WhatIfAnswered,
)
from .exchange import Exchange, ExchangeConfig
from .orders import OrderView
from .prices import PriceWalk
from .session import Session

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
    speed: float = 1.0
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
                ("account", self.account, bool(self.account), "non-empty"),
            )
            if not ok
        ]
        if problems:
            raise ValueError("invalid simulator settings: " + "; ".join(problems))


class SimServer:
    """A TWS-API wire-compatible gateway on one asyncio loop."""

    def __init__(
        self, config: SimConfig | None = None, *, clock: Clock | None = None, **options: Any
    ) -> None:
        self.config = replace(config or SimConfig(), **options)
        cfg = self.config
        self.account = cfg.account
        self.master_client_id = cfg.master_client_id
        self.clock: Clock = clock or WallClock(cfg.speed)
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
        self.port = cfg.port
        self._server: asyncio.Server | None = None
        self._sessions: dict[Session, asyncio.Task[None]] = {}
        self._clients: dict[int, Session] = {}
        self._session_numbers = 0
        self._walk: asyncio.Task[None] | None = None
        self._account_flush: asyncio.Handle | None = None
        self._departures: list[asyncio.Future[None]] = []
        self.control = Control(self)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen; after a `stop()` this is a Gateway restart: same port, same orders, fills and ids."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, self.config.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.config.price_interval > 0:
            self._walk = asyncio.create_task(self._walk_prices(), name="mats.sim.price_walk")
        log.info(
            "sim.listening host=%s port=%s account=%s master_client_id=%s max_clients=%s seed=%s",
            self.config.host, self.port, self.account, self.master_client_id, self.config.max_clients,
            self.config.seed,
        )  # fmt: skip

    async def stop(self) -> None:
        """Close every socket and stop listening; the account, orders and executions are kept."""
        if self._server is not None:
            self._server.close()
        if self._walk is not None:
            self._walk.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._walk
            self._walk = None
        if self._account_flush is not None:
            self._account_flush.cancel()
            self._account_flush = None
        for session in list(self._sessions):
            session.close()
        tasks = list(self._sessions.values())
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        log.info("sim.stopped port=%s", self.port)

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

    async def _walk_prices(self) -> None:
        interval = self.config.price_interval / self.config.speed
        while True:
            await asyncio.sleep(interval)
            self.exchange.step_prices()

    # ------------------------------------------------------- client registry

    def register(self, session: Session, client_id: int) -> tuple[int, str] | None:
        """None when the clientId may connect, else the (code, text) TWS answers before closing."""
        if client_id in self._clients:
            return 326, "Unable to connect as the client id is already in use. Retry with a unique client id."
        if len(self._clients) >= self.config.max_clients:
            return 502, (
                f"Couldn't connect to TWS: the maximum number of API clients ({self.config.max_clients}) "
                "is already connected."
            )
        self._clients[client_id] = session
        return None

    def unregister(self, session: Session) -> None:
        if session.client_id is not None and self._clients.get(session.client_id) is session:
            del self._clients[session.client_id]
            waiters, self._departures = self._departures, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_disconnected(self, client_id: int) -> None:
        """Return once `client_id` holds no connection (TWS frees an id only when it sees the socket go)."""
        while client_id in self._clients:
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
        match event:
            case OrderChanged(order=order):
                for s in self._audience(order):
                    s.send(out.open_order(order, s.server_version))
                    s.send(out.order_status(order))
            case OrderFilled(order=order, execution=execution, report=report):
                for s in self._audience(order):
                    s.send(out.exec_details(-1, execution, s.server_version))
                    s.send(out.open_order(order, s.server_version))
                    s.send(out.order_status(order))
                    s.send(out.commission_report(report))
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
            case PricesMoved():
                self._schedule_account_push()

    def _schedule_account_push(self) -> None:
        if self._account_flush is None and self._clients:
            loop = asyncio.get_running_loop()
            self._account_flush = loop.call_later(self.config.account_push_interval, self._push_accounts)

    def _push_accounts(self) -> None:
        self._account_flush = None
        for session in self._clients.values():
            session.push_all_account_streams()
