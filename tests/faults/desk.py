"""A trading desk for fault scenarios: the whole live engine (ArcticDB store, IB clients, strategies) against
the simulator, with the waits a scenario needs and the read-back the invariants check.

``run_engine`` (tests/live) builds the engine without a store; the invariants need the flusher writing
``{account}/fills`` to ArcticDB, so the desk adds the store component first, as ``mats serve`` does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from live.conftest import FAST
from live.support import sim_settings, wait_for_event
from live.test_live_strategies import bar
from mats.actors import Subscription
from mats.brokers.orders import OrderHandle
from mats.launch import live_engine
from mats.messages import CancelOrder
from mats.model import ORDER_REF_PREFIX, OrderState, StrategySpec
from mats.sim import SimServer
from mats.sim.clock import VirtualClock
from mats.storage import StoreComponent
from mats.store.arctic import ArcticStore
from mats.store.reader import FillsReader
from mats.store.schemas import FILLS, FILLS_SYMBOL
from mats.strategy import BaseStrategy

from .invariants import Outcome

T0 = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
SETTLE_TIMEOUT = 15.0


def paused_sim(port: int) -> SimServer:
    """The simulator on a paused virtual clock: fault durations end when the scenario advances it."""
    clock = VirtualClock(T0, running=False)
    return SimServer(port=port, price_interval=0, account_push_interval=0.01, clock=clock)


def pulse(strategy_id: str, symbol: str, qty: float) -> StrategySpec:
    """Pulse trading on every bar the scenario gives it (``Desk.pulse``), even while its last order is
    still open (a fault holds it). Daily bars, so that advancing the simulator's clock through a fault
    never hands it a bar of its own mid-check."""
    return StrategySpec(
        strategy_id,
        "strategies.pulse:Pulse",
        [symbol],
        {"qty": qty, "every": 1, "wait_for_fill": False},
        autostart=True,
        bar_size="1d",
    )


class Desk:
    """One running engine; ``finish`` stops it and returns what the invariants need."""

    def __init__(self, sim: SimServer, workdir: Path, specs: list[StrategySpec]) -> None:
        self.settings = sim_settings(sim.port, workdir, specs)
        self.sim = sim
        self.workdir = workdir
        store = StoreComponent(self.settings.resolved_arctic_uri)
        self.engine, self.trading = live_engine(self.settings, store=store, backoff=FAST)
        self.expected_breaks: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._changes: Subscription | None = None
        self._bars = 0
        self._reader: FillsReader | None = None

    async def __aenter__(self) -> Desk:
        self._task = asyncio.create_task(self.engine.run(handle_signals=False))
        ready = asyncio.ensure_future(self.engine.ready.wait())
        await asyncio.wait([ready, self._task], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            if self._task.done():
                self._task.result()  # the engine's own error
            raise TimeoutError("the engine did not start in 30 s")
        self._changes = self.engine.bus.subscribe(maxsize=1_000_000)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self.engine.request_shutdown("scenario over")
            await asyncio.wait_for(self._task, 30)

    # --- acting -----------------------------------------------------------------------------------------

    def strategy(self, strategy_id: str) -> BaseStrategy:
        strategy = self.trading.actors[strategy_id].strategy
        assert strategy is not None, f"strategy {strategy_id} is not running"
        return strategy

    async def pulse(self, strategy_id: str, symbol: str, price: float) -> str:
        """Price moves, and the strategy gets a bar: Pulse opens or closes its position. Returns once the
        TradeManager has taken (or refused) the order, with its orderRef."""
        self.sim.control.set_price(symbol, price)
        self._bars += 1
        orders = self.engine.bus.subscribe(types={"order"})
        try:
            await self.trading.actors[strategy_id].tell(bar(symbol, self._bars, price))
            event = await wait_for_event(orders, lambda e: e.status.strategy_id == strategy_id)
        finally:
            orders.close()
        ref: str = event.status.order_ref
        await self.until(lambda: self._reached_ib_or_refused(ref), f"{ref} at IB")
        return ref

    async def order(
        self, strategy_id: str, symbol: str, qty: float, limit_price: float | None = None
    ) -> OrderHandle:
        """Place through the strategy's API; returns once IB has the order (or MATS refused it)."""
        handle = self.strategy(strategy_id).place_order(symbol, qty, limit_price=limit_price)
        await handle
        await self.until(lambda: self._reached_ib_or_refused(handle.order_ref), f"{handle.order_ref} at IB")
        return handle

    def _reached_ib_or_refused(self, order_ref: str) -> bool:
        assert self.trading.trades is not None
        record = self.trading.trades.orders.get(order_ref)
        if record is not None and record.status.state is OrderState.REJECTED:
            return True
        return any(o.ticket.order_ref == order_ref for o in self.sim.control.orders())

    async def cancel(self, order_ref: str) -> bool:
        """Cancel through the TradeManager; if it was sent, wait until the order is done (cancelled, or
        filled first): a cancel queued in ib_async's request throttle has not reached IB yet."""
        trades = self.trading.trades
        assert trades is not None
        reply = await trades.ask(CancelOrder(order_ref=order_ref))
        if reply.accepted:
            await self.until(lambda: trades.orders[order_ref].status.state.is_done, f"{order_ref} done")
        return bool(reply.accepted)

    # --- waiting ----------------------------------------------------------------------------------------

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait, on the engine's events and its IB clients' updates (never a sleep), until ``condition``."""
        try:
            async with asyncio.timeout(timeout):
                while not condition():
                    await self._next_change()
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}") from None

    async def _next_change(self) -> None:
        assert self._changes is not None and self.engine.hub is not None
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._changes.get())]
        for client in (self.engine.hub.engine, self.engine.hub.recorder):
            if client.ib is not None:
                waits.append(asyncio.ensure_future(_next(client.ib.updateEvent)))
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for future in pending:
            future.cancel()
        for future in done:
            future.result()

    def missing(self) -> list[str]:
        """What the engine has not caught up with yet (empty when it agrees with the simulator)."""
        portfolio, trades, hub = self.trading.portfolio, self.trading.trades, self.engine.hub
        assert portfolio is not None and trades is not None and hub is not None
        out = []
        booked = {f.exec_id: f.commission for f in portfolio.fills()}
        for fill in self.sim.control.executions():
            exec_id = fill.execution.exec_id
            if exec_id not in booked:
                out.append(f"execution {exec_id} not booked")
            elif booked[exec_id] is None:
                out.append(f"commission of {exec_id} not booked")
        disconnected = sorted(cid for cid, client in hub.clients.items() if not client.connected)
        if disconnected:
            out.append(f"IB clients {disconnected} not connected")
        else:
            assert hub.engine.ib is not None
            seen: dict[int, float] = {}
            for p in hub.engine.ib.positions():
                seen[p.contract.conId] = seen.get(p.contract.conId, 0.0) + float(p.position)
            if {k: v for k, v in seen.items() if v} != self.sim_positions():
                out.append(f"engine sees positions {seen}, IB holds {self.sim_positions()}")
        working_at_ib = {
            o.ticket.order_ref
            for o in self.sim.control.open_orders()
            if o.ticket.order_ref.startswith("mats:")
        }
        working_here = {ref for ref, r in trades.orders.items() if not r.status.state.is_done}
        if working_at_ib != working_here:
            out.append(
                f"orders working at IB {sorted(working_at_ib)}, in the TradeManager {sorted(working_here)}"
            )
        return out

    async def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Every execution booked with its commission, positions and working orders agree with IB."""
        try:
            await self.until(lambda: not self.missing(), "the engine to catch up", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.missing()}") from None

    def sim_positions(self) -> dict[int, float]:
        return {p.con_id: float(p.qty) for p in self.sim.control.positions().values()}

    # --- the invariants' inputs -------------------------------------------------------------------------

    async def check(self) -> Outcome:
        """Mid-scenario: settle, reconcile, wait for the flusher, read ArcticDB through the engine's store
        (one FillsReader for the whole scenario, so its incremental fold is what gets checked)."""
        await self.settle()
        rows = await self.trading.reconcile("fault scenario check")
        flusher, store = self.trading.flusher, self.engine.store
        assert flusher is not None and store is not None
        await flusher.wait_flushed()
        if self._reader is None:
            self._reader = FillsReader(store, self.trading.account)
        folded = (await self._reader.folded()).copy()
        return await self._outcome(rows, folded, await _raw_fills(store, self.trading.account))

    async def finish(self) -> Outcome:
        """Cancel what still works, settle, reconcile, stop (the last flush), read ArcticDB back afresh."""
        for order in self.sim.control.open_orders():
            if order.ticket.order_ref.startswith(ORDER_REF_PREFIX):
                await self.cancel(order.ticket.order_ref)
        await self.settle()
        rows = await self.trading.reconcile("fault scenario over")
        account = self.trading.account
        outcome = await self._outcome(rows, FILLS.empty(), FILLS.empty())
        await self.stop()
        async with ArcticStore(self.settings.resolved_arctic_uri) as store:
            folded = (await FillsReader(store, account).folded()).copy()
            raw = await _raw_fills(store, account)
        return dataclasses.replace(outcome, folded=folded, raw_fills=raw)

    async def _outcome(self, rows: list[Any], folded: pd.DataFrame, raw: pd.DataFrame) -> Outcome:
        portfolio, trades, journal = self.trading.portfolio, self.trading.trades, self.trading.journal
        assert portfolio is not None and trades is not None and journal is not None
        return Outcome(
            executions=self.sim.control.executions(),
            sim_orders=self.sim.control.orders(),
            sim_positions=self.sim_positions(),
            folded=folded,
            raw_fills=raw,
            reconciliation=rows,
            positions=portfolio.positions(),
            trade_manager_refs=frozenset(trades.orders),
            journal_refs=frozenset(s.order_ref for s in await journal.current_orders()),
            expected_breaks=dict(self.expected_breaks),
            working_con_ids=frozenset(o.contract.con_id for o in self.sim.control.open_orders()),
        )


async def _raw_fills(store: ArcticStore, account: str) -> pd.DataFrame:
    if not await store.has_symbol(account, FILLS_SYMBOL):
        return FILLS.empty()
    return await store.read(account, FILLS_SYMBOL)


async def _next(event: Any) -> None:
    await event
