"""The recorder: IB's master client (99) → journal → PortfolioManager. The one authoritative fill path.

ib_async raises ``execDetailsEvent`` only for trades its own client placed, and drops commissions it
cannot match; the master client sees every client's executions (and manual TWS orders), so the hook
sits below that logic, on the wrapper's ``execDetails`` and ``commissionReport``. The same hook sees
live executions and the ``reqExecutions`` catch-up that runs after every (re)connect, so a fill made
while MATS was disconnected arrives the same way. The journal decides what is new: a repeated execId
is ignored, a higher revision supersedes. Only committed rows are passed on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import msgspec
from ib_async import CommissionReport as IBCommissionReport
from ib_async import Contract, Execution

from mats.actors.base import CORE_ACTOR_POLICY, Actor
from mats.actors.bus import EventBus
from mats.ib.connection import ManagedClient
from mats.messages import OrderFilled
from mats.model import CommissionReport, ConId, ExecId, Fill, Side, strategy_of_order_ref
from mats.store.journal import Journal

UNSET_DOUBLE = 1.7976931348623157e308


class ExecutionReceived(msgspec.Struct, frozen=True):
    fill: Fill
    live: bool


class CommissionReceived(msgspec.Struct, frozen=True):
    report: CommissionReport


class FillBooked(msgspec.Struct, frozen=True):
    """A fill the journal committed as new (or as a correction): what the PortfolioManager books."""

    fill: Fill
    journal_seq: int
    correction: bool


class CommissionBooked(msgspec.Struct, frozen=True):
    """A commission the journal committed; joined to its fill by execId by whoever books it."""

    report: CommissionReport
    journal_seq: int


Forward = Callable[[Any], Awaitable[None]]


def symbol_of(contract: Contract) -> str:
    """How MATS names a contract: futures and FX by their local symbol (``ESZ6``, ``EUR.USD``)."""
    return contract.localSymbol or contract.symbol


def fill_from_ib(contract: Contract, execution: Execution) -> Fill:
    exec_time = execution.time if isinstance(execution.time, datetime) else datetime.now(UTC)
    if exec_time.tzinfo is None:
        exec_time = exec_time.replace(tzinfo=UTC)
    multiplier = float(contract.multiplier) if contract.multiplier else 1.0
    return Fill(
        exec_id=ExecId(execution.execId),
        order_ref=execution.orderRef or "",
        strategy_id=strategy_of_order_ref(execution.orderRef),
        con_id=ConId(contract.conId),
        symbol=symbol_of(contract),
        side=Side.BUY if execution.side in ("BOT", "BUY") else Side.SELL,
        qty=float(execution.shares),
        price=float(execution.price),
        exec_time=exec_time.astimezone(UTC),
        perm_id=execution.permId or None,
        currency=contract.currency or "USD",
        multiplier=multiplier,
    )


def commission_from_ib(report: IBCommissionReport) -> CommissionReport:
    realized = report.realizedPNL
    return CommissionReport(
        exec_id=ExecId(report.execId),
        commission=float(report.commission),
        currency=report.currency or "USD",
        realized_pnl=None if realized in (None, UNSET_DOUBLE, 0.0) else float(realized),
    )


class Recorder(Actor):
    def __init__(
        self,
        journal: Journal,
        client: ManagedClient,
        *,
        bus: EventBus | None = None,
        forward: Forward | None = None,
        catch_up_timeout: float = 10.0,
    ) -> None:
        # Fills must never be refused for lack of room: the lane is deep, and the journal drains it fast.
        super().__init__("recorder", bus=bus, control_capacity=1_000_000, policy=CORE_ACTOR_POLICY)
        self.journal = journal
        self.client = client
        self.forward = forward
        self.catch_up_timeout = catch_up_timeout
        self.recorded = 0
        self.duplicates = 0
        self.catch_ups = 0
        self.catch_up_timeouts = 0
        self._hooked: Any = None

    async def on_start(self) -> None:
        self.client.on_connected.append(self._catch_up)
        if self.client.ib is not None:
            self._hook(self.client)

    async def on_stop(self, reason: str) -> None:
        if self._catch_up in self.client.on_connected:
            self.client.on_connected.remove(self._catch_up)

    # --- the hook on client 99's wrapper ------------------------------------------------------------

    def _hook(self, client: ManagedClient) -> None:
        ib = client.ib
        if ib is None or self._hooked is ib:
            return
        wrapper = ib.wrapper
        original_exec, original_commission = wrapper.execDetails, wrapper.commissionReport

        def exec_details(req_id: int, contract: Contract, execution: Execution) -> None:
            live = req_id not in wrapper._futures
            self.tell_nowait(ExecutionReceived(fill_from_ib(contract, execution), live))
            original_exec(req_id, contract, execution)

        def commission_report(report: IBCommissionReport) -> None:
            self.tell_nowait(CommissionReceived(commission_from_ib(report)))
            original_commission(report)

        # Patch this instance only: the decoder looks these up on the wrapper at every message.
        setattr(wrapper, "execDetails", exec_details)  # noqa: B010
        setattr(wrapper, "commissionReport", commission_report)  # noqa: B010
        self._hooked = ib

    async def _catch_up(self, client: ManagedClient) -> None:
        """After every connect: today's executions, through the same hook as live ones."""
        self._hook(client)
        assert client.ib is not None
        self.catch_ups += 1
        try:
            with anyio.fail_after(self.catch_up_timeout):
                await client.ib.reqExecutionsAsync()
        except TimeoutError:
            # Some Gateways never send execDetailsEnd; what did arrive was recorded by the hook.
            self.catch_up_timeouts += 1
            self.log.warning("recorder.catch_up_timeout", timeout_s=self.catch_up_timeout)

    # --- messages -------------------------------------------------------------------------------------

    async def handle(self, message: Any) -> None:
        match message:
            case ExecutionReceived(fill=fill):
                recorded = await self.journal.record_fill(fill)
                if recorded is None:
                    self.duplicates += 1
                    return
                self.recorded += 1
                booked = FillBooked(
                    fill=fill, journal_seq=recorded.seq, correction=recorded.kind == "correction"
                )
                self.log.info(
                    "fill.recorded",
                    exec_id=fill.exec_id,
                    strategy_id=fill.strategy_id,
                    order_ref=fill.order_ref,
                    symbol=fill.symbol,
                    side=str(fill.side),
                    qty=fill.qty,
                    price=fill.price,
                    live=message.live,
                )
                if self.bus is not None:
                    self.bus.publish(OrderFilled(fill=fill))
                if self.forward is not None:
                    await self.forward(booked)
            case CommissionReceived(report=report):
                recorded_commission = await self.journal.record_commission(report)
                if recorded_commission is None:
                    return
                if self.forward is not None:
                    await self.forward(CommissionBooked(report=report, journal_seq=recorded_commission.seq))
