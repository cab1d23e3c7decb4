"""One ib_async ``IB()`` client kept connected: reconnect with backoff, IB's signals turned into hooks.

What each signal means (DESIGN.md section 3): a dropped socket → reconnect with backoff once the old one
has closed (else the Gateway answers 326), then run the ``on_connected`` hooks (catch up, rebuild,
reconcile); 1100 → hold new orders, keep the socket; 1102 → release and reconcile; 1101 → resubscribe
every stream, then reconcile; farm codes mark streams stale and fresh; 10182 → re-request one stream.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import anyio
import msgspec
import structlog
from eventkit import Event
from ib_async import IB, StartupFetch, Trade

from mats.actors.bus import EventBus
from mats.ib import speedups  # noqa: F401  (installs faster ib_async hot paths)
from mats.ib.errors import Severity, Signal, classify, farm_of
from mats.ib.reader import DecodeBudget, PacedReader, install_paced_reader
from mats.messages import AlertRaised, ConnectionChanged


class ClientRole(StrEnum):
    ENGINE = "engine"  # clientId 0: account-wide views, manual TWS orders
    RECORDER = "recorder"  # the master client: every fill, the one authoritative fill path
    STRATEGY = "strategy"  # a strategy's own or pooled execution client


# What each role asks for during ib_async's start-up sync (positions are always requested by ib_async).
# The recorder catches up executions itself, with its own timeout, after every connect.
STARTUP_FETCH: dict[ClientRole, StartupFetch] = {
    ClientRole.ENGINE: StartupFetch.ACCOUNT_UPDATES | StartupFetch.ORDERS_OPEN,
    ClientRole.RECORDER: StartupFetch(0),
    ClientRole.STRATEGY: StartupFetch.ORDERS_OPEN,
}


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    HELD = "held"  # connected, but IB lost its own connectivity (1100): no new orders
    STOPPED = "stopped"


class Backoff(msgspec.Struct, frozen=True):
    initial: float = 0.25
    maximum: float = 30.0
    factor: float = 2.0
    client_id_in_use: float = 2.0  # the Gateway still holds the old socket: wait at least this long

    def delay(self, attempt: int, *, in_use: bool) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(attempt - 1, 0))
        if in_use:
            base = max(base, self.client_id_in_use)
        return base * random.uniform(0.8, 1.2)


SignalHook = Callable[["ManagedClient", Signal, int, str], Awaitable[None] | None]
ConnectedHook = Callable[["ManagedClient"], Awaitable[None]]


class ManagedClient:
    def __init__(
        self,
        client_id: int,
        role: ClientRole,
        *,
        host: str,
        port: int,
        bus: EventBus | None = None,
        account: str = "",
        connect_timeout: float = 10.0,
        backoff: Backoff | None = None,
        decode_budget: DecodeBudget | None = None,
    ) -> None:
        self.client_id = client_id
        self.role = role
        self.host = host
        self.port = port
        self.bus = bus
        self.account = account
        self.connect_timeout = connect_timeout
        self.backoff = backoff or Backoff()
        self.ib: IB | None = None
        self.reader: PacedReader | None = None
        self.decode_budget = decode_budget or DecodeBudget()  # shared by the hub's clients
        self.state = ConnectionState.DISCONNECTED
        self.stale_farms: set[str] = set()
        self.connects = 0
        self.last_error = ""
        self.on_connected: list[ConnectedHook] = []
        self.on_signal: list[SignalHook] = []
        self.log = structlog.get_logger("mats.ib").bind(client_id=client_id, role=str(role))
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._stopping = False
        self._in_use = False
        self._hook_tasks: set[asyncio.Future[Any]] = set()
        self._finished: deque[tuple[float, Trade]] = deque()  # done orders, oldest first, not yet pruned
        self.forget_finished_after = 60.0  # seconds a done order stays in ib_async's tables
        self.pruned = 0

    # --- lifecycle ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the client connected until ``stop``; run it as a task (again after a stop, to resume)."""
        if self.ib is None:
            self.ib = IB()
            self.reader = install_paced_reader(self.ib, self.decode_budget)
            self.ib.errorEvent += self._on_error
            self.ib.disconnectedEvent += self._on_disconnected
            self.ib.orderStatusEvent += self._on_order_status
        self._stopping = False
        attempt = 0
        reported_error = ""
        while not self._stopping:
            attempt += 1
            if await self._connect_once():
                attempt = 0
                reported_error = ""
                await self._disconnected.wait()
                if self._stopping:
                    break
                self._publish_connection(False, self.last_error or "socket closed")
                continue
            if self._stopping:
                break
            if self.last_error != reported_error:  # say why it is not connecting, once per reason
                reported_error = self.last_error
                self._publish_connection(False, self.last_error)
            delay = self.backoff.delay(attempt, in_use=self._in_use)
            self.log.info(
                "ib.reconnect_wait", attempt=attempt, delay_s=round(delay, 2), error=self.last_error
            )
            await anyio.sleep(delay)
        self.state = ConnectionState.STOPPED

    async def _connect_once(self) -> bool:
        assert self.ib is not None
        self.state = ConnectionState.CONNECTING
        self._in_use = False
        self._disconnected = asyncio.Event()
        try:
            with anyio.fail_after(self.connect_timeout * 4 + 1):
                await self.ib.connectAsync(
                    self.host,
                    self.port,
                    clientId=self.client_id,
                    timeout=self.connect_timeout,
                    account=self.account,
                    fetchFields=STARTUP_FETCH[self.role],
                )
        except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
            self.last_error = "clientId in use" if self._in_use else (repr(exc) or type(exc).__name__)
            self.state = ConnectionState.DISCONNECTED
            self.ib.disconnect()
            return False
        if self.role is not ClientRole.ENGINE:
            # ib_async subscribes every client to account-wide positions; only the engine's client reads
            # them. Unsubscribed, a fill no longer costs one position message per connected client (32 on a
            # full Gateway) for every strategy client and the recorder to decode on the loop.
            self.ib.client.cancelPositions()
        self.connects += 1
        self.state = ConnectionState.CONNECTED
        self.stale_farms.clear()
        self.log.info("ib.connected", connects=self.connects)
        self._publish_connection(True, "reconnected" if self.connects > 1 else "connected")
        for hook in list(self.on_connected):
            try:
                await hook(self)
            except Exception:
                self.log.exception("ib.on_connected_failed", hook=getattr(hook, "__qualname__", repr(hook)))
        self._connected.set()
        return True

    async def stop(self) -> None:
        was_connected = self.connected
        self._stopping = True
        self._disconnected.set()
        if self.ib is not None and self.ib.isConnected():
            self.ib.disconnect()
        if was_connected:
            self._publish_connection(False, "closed by MATS")
        self.state = ConnectionState.STOPPED
        self._connected.clear()

    async def wait_connected(self, timeout: float) -> None:
        if self._connected.is_set():
            return  # the common case, on every order's path: no cancel scope, no timer
        with anyio.fail_after(timeout):
            await self._connected.wait()

    # --- IB's signals ---------------------------------------------------------------------------------

    # --- ib_async's per-client tables ------------------------------------------------------------------

    def _on_order_status(self, trade: Trade) -> None:
        if trade.isDone():
            self._finished.append((time.monotonic(), trade))
            self.prune_finished()

    def prune_finished(self, now: float | None = None) -> int:
        """Forget orders that finished more than ``forget_finished_after`` seconds ago.

        ib_async keeps every order this client saw (``wrapper.trades``, ``permId2Trade``) and every fill
        (``wrapper.fills``) for the life of the connection; a busy day is tens of thousands of Trades with
        ~150-field Orders on the heap, which the garbage collector walks again and again. MATS keeps its own
        record of each order (the TradeManager and the journal), so a finished order is dropped here once late
        reports (a commission, the master client's copy) have had time to arrive. Its events let go of it too:
        eventkit keeps an event's last value, so each Trade sat in a reference cycle that only a full
        collection frees, and the engine makes those rare (found by bench/memory_profile.py, ~300 MiB/h at
        20x). Costs only what it prunes.
        """
        ib = self.ib
        if ib is None:
            return 0
        now = time.monotonic() if now is None else now
        wrapper, pruned = ib.wrapper, 0
        while self._finished and now - self._finished[0][0] >= self.forget_finished_after:
            _, trade = self._finished.popleft()
            order = trade.order
            key = wrapper.orderKey(order.clientId, order.orderId, order.permId)
            if wrapper.trades.get(key) is trade:
                del wrapper.trades[key]
            if order.permId and wrapper.permId2Trade.get(order.permId) is trade:
                del wrapper.permId2Trade[order.permId]
            for fill in trade.fills:
                wrapper.fills.pop(fill.execution.execId, None)
            for name in Trade.events:  # each event keeps the Trade as its last value: a reference cycle
                getattr(trade, name)._value = Event.NO_VALUE
            pruned += 1
        self.pruned += pruned
        return pruned

    def _on_disconnected(self) -> None:
        self._connected.clear()
        if self.state is not ConnectionState.STOPPED:
            self.state = ConnectionState.DISCONNECTED
        self.log.warning("ib.disconnected")
        self._disconnected.set()

    def _on_error(self, req_id: int, code: int, message: str, contract: Any = None) -> None:
        kind = classify(code)
        log = self.log.bind(code=code, req_id=req_id)
        match kind.severity:
            case Severity.INFO:
                log.debug("ib.notice", message=message)
            case Severity.WARNING:
                log.info("ib.warning", message=message)
            case _:
                log.warning("ib.error", message=message)
        match kind.signal:
            case Signal.CLIENT_ID_IN_USE:
                self._in_use = True
                self.last_error = "clientId in use"
            case Signal.CONNECTIVITY_LOST:
                self.state = ConnectionState.HELD
                self._alert(
                    "disconnect", f"IB lost connectivity (1100) on client {self.client_id}; orders held"
                )
            case Signal.RESTORED_DATA_KEPT | Signal.RESTORED_DATA_LOST:
                if self.state is ConnectionState.HELD:
                    self.state = ConnectionState.CONNECTED
            case Signal.FARM_BROKEN:
                self.stale_farms.add(farm_of(message))
                self._alert("farm", f"data farm broken: {message}")
            case Signal.FARM_OK:
                self.stale_farms.discard(farm_of(message))
        if kind.signal is not Signal.NONE:
            for hook in list(self.on_signal):
                result = hook(self, kind.signal, req_id, message)
                if result is not None:
                    task = asyncio.ensure_future(result)
                    self._hook_tasks.add(task)
                    task.add_done_callback(self._hook_tasks.discard)

    # --- helpers ------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.state in (ConnectionState.CONNECTED, ConnectionState.HELD)

    @property
    def holding_orders(self) -> bool:
        return self.state is not ConnectionState.CONNECTED

    def _publish_connection(self, connected: bool, detail: str) -> None:
        if self.bus is not None:
            self.bus.publish(
                ConnectionChanged(
                    client_id=self.client_id, role=str(self.role), connected=connected, detail=detail
                )
            )

    def _alert(self, kind: str, message: str) -> None:
        if self.bus is not None:
            self.bus.publish(AlertRaised(kind=kind, message=message, data={"client_id": self.client_id}))
