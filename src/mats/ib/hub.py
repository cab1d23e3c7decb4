"""IBHub: every ib_async client of the engine, keyed by clientId, on the engine's loop.

clientId 0 is the engine's (account views, manual TWS orders), the master client (99) is the recorder
(every fill), and strategies trade through their own clients while the Gateway has room, then through
shared ones (``ClientAllocator``). Each client keeps itself connected (``ManagedClient``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio
import structlog
from ib_async import BarDataList, Contract

from mats.actors.bus import EventBus
from mats.config import IBSettings
from mats.ib.allocation import ENGINE_CLIENT_ID, ClientAllocator
from mats.ib.connection import Backoff, ClientRole, ManagedClient
from mats.ib.pacing import Pacing
from mats.ib.reader import DecodeBudget

if TYPE_CHECKING:
    from mats.engine import Engine

log = structlog.get_logger("mats.ib.hub")


class IBHub:
    name = "ib"

    def __init__(
        self, settings: IBSettings, *, bus: EventBus | None = None, backoff: Backoff | None = None
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.backoff = backoff
        self.pacing = Pacing()
        self.decode_budget = DecodeBudget()  # one loop, one budget: every client's socket shares it
        self.allocator = ClientAllocator(
            max_clients=settings.max_clients, master_client_id=settings.master_client_id
        )
        self.clients: dict[int, ManagedClient] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._started = False
        self.engine = self._make(ENGINE_CLIENT_ID, ClientRole.ENGINE)
        self.recorder = self._make(settings.master_client_id, ClientRole.RECORDER)

    # --- Component protocol -------------------------------------------------------------------------

    async def start(self, engine: Engine | None = None) -> None:
        """Start the engine and recorder clients; return once both are connected (or the timeout passes)."""
        if engine is not None and self.bus is None:
            self.bus = engine.bus
            for client in self.clients.values():
                client.bus = engine.bus
        self._started = True
        for client in (self.engine, self.recorder):
            self._run(client)
        try:
            await self.engine.wait_connected(self.settings.connect_timeout * 2)
            await self.recorder.wait_connected(self.settings.connect_timeout * 2)
        except TimeoutError:
            log.warning("ib.start_not_connected", host=self.settings.host, port=self.settings.port)

    async def stop(self) -> None:
        self._started = False
        for client in reversed(list(self.clients.values())):
            await client.stop()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def pause(self) -> None:
        """Disconnect every client (an operator's request); orders at IB keep working."""
        await self.stop()

    async def resume(self) -> None:
        """Reconnect every client that ``pause`` disconnected."""
        if self._started:
            return
        self._started = True
        for client in self.clients.values():
            self._run(client)
        await self.engine.wait_connected(self.settings.connect_timeout * 2)

    # --- strategies ---------------------------------------------------------------------------------

    async def client_for(self, strategy_id: str, preferred: int | None = None) -> ManagedClient:
        """The strategy's execution client, connecting it first if it is new."""
        client_id = self.allocator.assign(strategy_id, preferred)
        client = self.clients.get(client_id)
        if client is None:
            if not self._started:
                raise RuntimeError("IBHub is not started")
            client = self._make(client_id, ClientRole.STRATEGY)
            self._run(client)
        elif client.connects > 0 and not client.connected:
            # Reconnecting (a Gateway restart): return at once and let the caller refuse what needs a
            # connection. Waiting here would stall every order for the timeout, then raise inside the
            # TradeManager's handler, which stopped the actor (tests/faults/test_regressions.py).
            return client
        await client.wait_connected(self.settings.connect_timeout * 2)
        return client

    async def release(self, strategy_id: str, *, disconnect: bool = True) -> None:
        """The strategy stopped; its client is closed when nobody else trades through it."""
        client_id = self.allocator.release(strategy_id)
        if client_id is not None and disconnect:
            client = self.clients.pop(client_id, None)
            if client is not None:
                await client.stop()
            task = self._tasks.pop(client_id, None)
            if task is not None:
                task.cancel()

    # --- requests MATS fans out ---------------------------------------------------------------------

    async def historical_bars(
        self,
        contract: Contract,
        *,
        duration: str,
        bar_size: str,
        what: str = "TRADES",
        end: str = "",
        use_rth: bool = False,
        timeout: float | None = None,
    ) -> BarDataList:
        """Historical bars through the engine's client (strategy warm-ups): every such request waits at IB's
        three historical gates first (60 per 10 minutes, none identical within 15 s, at most 5 per contract
        in 2 s), so N strategies warming up at once are spread out instead of answered with 162."""
        ib = self.engine.ib
        if ib is None or not self.engine.connected:
            raise ConnectionError("the engine's IB client is not connected")
        key = (
            contract.conId or contract.localSymbol or contract.symbol,
            end,
            duration,
            bar_size,
            what,
            use_rth,
        )
        await self.pacing.historical.acquire(key[0], key)
        limit = timeout if timeout is not None else self.settings.request_timeout
        with anyio.fail_after(limit):
            return await ib.reqHistoricalDataAsync(
                contract, end, duration, bar_size, what, use_rth, formatDate=2, timeout=0
            )

    def _run(self, client: ManagedClient) -> None:
        task = asyncio.create_task(client.run(), name=f"ib-client-{client.client_id}")
        task.add_done_callback(self._client_task_done)
        self._tasks[client.client_id] = task

    @staticmethod
    def _client_task_done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("ib.client_task_failed", task=task.get_name(), exc_info=task.exception())

    def _make(self, client_id: int, role: ClientRole) -> ManagedClient:
        client = ManagedClient(
            client_id,
            role,
            host=self.settings.host,
            port=self.settings.port,
            bus=self.bus,
            account=self.settings.account,
            connect_timeout=self.settings.connect_timeout,
            backoff=self.backoff,
            decode_budget=self.decode_budget,
        )
        self.clients[client_id] = client
        return client
