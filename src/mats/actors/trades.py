"""TradeManager: every MATS order's life, keyed by orderRef, journaled before it is sent.

An order is journaled as ``PendingSubmit`` first, then sent through the client of the strategy that
owns it (only the placing client may modify or cancel it). Status changes arrive from the owner's
client and from the master client (which also sees orders whose client is gone); both are folded into
one ``OrderStatus`` per change, journaled, published and passed to the strategy. IB's numeric orderId
is not trusted across restarts; the orderRef and, once assigned, the permId are.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import msgspec
from ib_async import Trade

from mats.actors.base import CORE_ACTOR_POLICY, Actor
from mats.actors.bus import EventBus
from mats.actors.finished_refs import FinishedRefs
from mats.ib.connection import ManagedClient
from mats.ib.contracts import IBInstrumentResolver, contract_for
from mats.ib.hub import IBHub
from mats.ib.orders import IB_STATES, TradeStatusSeen, build_order, same_status, status_seen
from mats.kept import Kept
from mats.messages import CancelOrder, ModifyOrder, OrderStatusChanged, PlaceOrder, RiskRejected
from mats.model import OrderRef, OrderRequest, OrderState, OrderStatus, StrategyId
from mats.risk import RiskState, admit, check_modify
from mats.store.crashpoints import AFTER_SEND_BEFORE_JOURNAL, crash_point
from mats.store.journal import Journal

Route = Callable[[str, OrderStatus], Awaitable[None] | None]

KEEP_FINISHED = 10_000  # finished orders the TradeManager keeps in memory (the newest)


class CancelAll(msgspec.Struct, frozen=True):
    """Cancel every open order, or one strategy's, each through the client that placed it."""

    strategy_id: str | None = None


class OrderReply(msgspec.Struct, frozen=True):
    accepted: bool
    status: OrderStatus


class _Order:
    """The TradeManager's own record of one order."""

    def __init__(self, request: OrderRequest, order_ref: str, status: OrderStatus) -> None:
        self.request = request
        self.order_ref = order_ref
        self.status = status
        self.client: ManagedClient | None = None
        self.trade: Trade | None = None


class TradeManager(Actor):
    def __init__(
        self,
        hub: IBHub,
        journal: Journal,
        instruments: IBInstrumentResolver,
        *,
        bus: EventBus | None = None,
        route: Route | None = None,
        account: str = "",
        risk: RiskState | None = None,
        request_timeout: float = 10.0,
        owner_client: Callable[[str], Awaitable[ManagedClient]] | None = None,
    ) -> None:
        super().__init__("trades", bus=bus, control_capacity=100_000, policy=CORE_ACTOR_POLICY)
        self.risk = risk
        self.request_timeout = request_timeout
        # How to reach the client that placed a strategy's orders (reconnecting under its old clientId).
        self.owner_client = owner_client or (lambda sid: hub.client_for(sid))
        self.hub = hub
        self.journal = journal
        self.instruments = instruments
        self.route = route
        self.account = account
        self.orders: dict[str, _Order] = {}  # working orders and the newest ``keep_finished`` finished ones
        self.keep_finished = KEEP_FINISHED
        self._finished: deque[str] = deque()  # finished orderRefs still in ``orders``, oldest first
        self._forgotten = FinishedRefs()  # finished and let go: their refs are never used again

    async def on_start(self) -> None:
        self.hub.recorder.on_connected.append(self._watch_master)
        if self.hub.recorder.ib is not None:
            await self._watch_master(self.hub.recorder)
        await self.rebuild()

    async def rebuild(self) -> None:
        """Start-up (and after a crash): the journal's orders, brought up to date with what IB says.

        Open orders come from the master client's ``reqAllOpenOrders``; orders the journal thinks are
        working but IB no longer lists finished while MATS was down, and ``reqCompletedOrders`` says how.
        """
        for status in await self.journal.current_orders():
            if status.order_ref in self.orders or status.order_ref in self._forgotten:
                continue
            request = OrderRequest(
                strategy_id=status.strategy_id, symbol=status.symbol, qty=status.qty or 0.0, con_id=None
            )
            self.orders[status.order_ref] = _Order(request, status.order_ref, status)
            if status.state.is_done:
                self._order_finished(status.order_ref)
        ib = self.hub.recorder.ib
        if ib is None or not self.hub.recorder.connected:
            return
        # Only orders known before asking IB can be missing from its answer; one placed meanwhile (this
        # also runs after a reconnect, while strategies trade) may simply be newer than the answer.
        asked_about = {ref for ref, record in self.orders.items() if not record.status.state.is_done}
        try:
            with anyio.fail_after(self.request_timeout):
                open_trades = await ib.reqAllOpenOrdersAsync()
                completed = await ib.reqCompletedOrdersAsync(apiOnly=True)
        except TimeoutError:
            self.log.warning("orders.rebuild_timeout", timeout_s=self.request_timeout)
            return
        listed: set[str] = set()
        for trade in [*open_trades, *completed]:
            ref = trade.order.orderRef
            record = self.orders.get(ref) if ref else None
            if record is None:
                continue
            listed.add(ref)
            if trade.contract.conId and record.request.con_id is None:
                record.request = msgspec.structs.replace(record.request, con_id=trade.contract.conId)
            self._on_trade(trade)  # folds IB's view into the record through the mailbox, like live
        for ref in asked_about - listed:
            record = self.orders[ref]
            if not record.status.state.is_done:
                self._close_unknown_to_ib(record)
        working = sum(1 for r in self.orders.values() if not r.status.state.is_done)
        self.log.info("orders.rebuilt", known=len(self.orders), working=working, open_at_ib=len(open_trades))

    def _close_unknown_to_ib(self, record: _Order) -> None:
        """A journaled order IB lists neither open nor completed is not working, whatever the journal says.

        It was journaled and then lost before it left the process (ib_async holds messages back above
        45/s; a crash loses them). Left open, a strategy would wait on it for ever; MATS never resends it."""
        never_sent = record.status.state is OrderState.PENDING
        reason = (
            "never reached IB: MATS stopped before the order left the process"
            if never_sent
            else "IB no longer lists this order, open or completed"
        )
        self.log.warning("order.unknown_to_ib", order_ref=record.order_ref, state=str(record.status.state))
        self.tell_nowait(  # through the mailbox: after a reconnect this runs beside the actor's own task
            TradeStatusSeen(
                order_ref=record.order_ref,
                ib_status="Cancelled",
                filled=record.status.filled,
                remaining=0.0,
                avg_fill_price=record.status.avg_fill_price,
                perm_id=record.status.perm_id or 0,
                reason=reason,
            )
        )

    async def _watch_master(self, client: ManagedClient) -> None:
        """The master client reports every order, including those whose own client is gone."""
        ib = client.ib
        if ib is not None and self._on_trade not in ib.orderStatusEvent:
            ib.orderStatusEvent += self._on_trade

    # --- messages -----------------------------------------------------------------------------------

    async def handle(self, message: Any) -> Any:
        match message:
            case PlaceOrder():
                return await self._place(message)
            case CancelOrder(order_ref=order_ref):
                return await self._cancel(order_ref)
            case ModifyOrder():
                return await self._modify(message)
            case TradeStatusSeen():
                await self._status_seen(message)
            case CancelAll(strategy_id=strategy_id):
                return await self._cancel_all(strategy_id)
        return None

    async def _cancel_all(self, strategy_id: str | None) -> list[str]:
        """Cancel every open MATS order (of one strategy) through its owning client; the refs it tried."""
        tried = []
        for ref, record in list(self.orders.items()):
            if record.status.state.is_done or (
                strategy_id is not None and record.request.strategy_id != strategy_id
            ):
                continue
            tried.append(ref)
            await self._cancel(ref)
        return tried

    def open_con_ids(self) -> set[int]:
        """Contracts with an order still working: reconciliation does not measure their breaks."""
        return {
            r.request.con_id
            for r in self.orders.values()
            if not r.status.state.is_done and r.request.con_id is not None
        }

    async def _place(self, command: PlaceOrder) -> OrderReply:
        request, order_ref = command.request, command.order_ref
        known = self.orders.get(order_ref)
        if known is not None:  # a retried command: the order exists, never send it twice
            return OrderReply(accepted=known.status.state is not OrderState.REJECTED, status=known.status)
        if order_ref in self._forgotten:  # … even long after it finished
            used = self._status(request, order_ref, OrderState.REJECTED, remaining=0.0)
            reason = f"{order_ref} belongs to an order that finished earlier; it is never sent twice"
            return OrderReply(accepted=False, status=msgspec.structs.replace(used, reason=reason))
        pending = self._status(request, order_ref, OrderState.PENDING, remaining=abs(request.qty))
        record = _Order(request, order_ref, pending)
        self.orders[order_ref] = record
        instrument = self.instruments.by_con_id(request.con_id) if request.con_id is not None else None
        refusal = admit(self.risk, request, instrument, order_ref) if self.risk is not None else None
        if refusal is not None:
            self._risk_rejected(request, refusal)
            return await self._reject(record, refusal)
        await self.journal.record_order_intent(pending)  # durable before it can reach IB, no commit wait
        if instrument is None:
            return await self._reject(record, f"instrument {request.symbol!r} was not qualified with IB")
        client = await self.hub.client_for(request.strategy_id)
        if not client.connected or client.ib is None:
            return await self._reject(record, f"IB client {client.client_id} is not connected")
        if client.holding_orders:
            return await self._reject(record, "IB reports lost connectivity (1100); new orders are held back")
        record.client = client
        trade = client.ib.placeOrder(contract_for(instrument), build_order(request, order_ref, self.account))
        crash_point(AFTER_SEND_BEFORE_JOURNAL)
        record.trade = trade
        trade.statusEvent += self._on_trade
        self.log.info(
            "order.sent",
            order_ref=order_ref,
            strategy_id=request.strategy_id,
            client_id=client.client_id,
            symbol=request.symbol,
            qty=request.qty,
            order_type=str(request.order_type),
        )
        self._announce(record.status)
        return OrderReply(accepted=True, status=record.status)

    async def _cancel(self, order_ref: str) -> OrderReply:
        record = self.orders.get(order_ref)
        if record is None:
            raise KeyError(f"unknown order {order_ref!r}")
        if record.status.state.is_done:
            return OrderReply(accepted=False, status=record.status)
        if record.trade is None:
            await self._bind_owner(record)
        client, trade = record.client, record.trade
        if client is None or trade is None or client.ib is None or not client.connected:
            owner = "?" if client is None else client.client_id
            reason = f"cannot cancel {order_ref}: its client {owner} is not connected"
            return OrderReply(accepted=False, status=msgspec.structs.replace(record.status, reason=reason))
        client.ib.cancelOrder(trade.order)
        return OrderReply(accepted=True, status=record.status)

    async def _bind_owner(self, record: _Order) -> None:
        """An order from before a restart: find it among its strategy's client's open orders (only the
        placing clientId may touch it; the strategy reconnects under the same id)."""
        try:
            client = await self.owner_client(record.request.strategy_id)
        except Exception as exc:
            self.log.warning("order.owner_unreachable", order_ref=record.order_ref, error=repr(exc))
            return
        if client.ib is None:
            return
        for trade in client.ib.openTrades():
            if trade.order.orderRef == record.order_ref:
                record.client, record.trade = client, trade
                trade.statusEvent += self._on_trade
                return

    async def _modify(self, command: ModifyOrder) -> OrderReply:
        record = self.orders.get(command.order_ref)
        if record is None:
            raise KeyError(f"unknown order {command.order_ref!r}")
        client, trade = record.client, record.trade
        if record.status.state.is_done or client is None or trade is None or client.ib is None:
            return OrderReply(accepted=False, status=record.status)
        changed = msgspec.structs.replace(
            record.request,
            qty=record.request.qty if command.qty is None else command.qty,
            limit_price=record.request.limit_price if command.limit_price is None else command.limit_price,
            stop_price=record.request.stop_price if command.stop_price is None else command.stop_price,
        )
        if self.risk is not None:
            instrument = self.instruments.by_con_id(changed.con_id) if changed.con_id is not None else None
            refusal = check_modify(self.risk, changed, instrument)
            if refusal is not None:  # the order keeps working as it was; only the change is refused
                self._risk_rejected(changed, refusal)
                return OrderReply(
                    accepted=False, status=msgspec.structs.replace(record.status, reason=refusal)
                )
        record.request = changed
        order = trade.order
        if command.qty is not None:
            order.totalQuantity = abs(command.qty)
        if command.limit_price is not None:
            order.lmtPrice = command.limit_price
        if command.stop_price is not None:
            order.auxPrice = command.stop_price
        client.ib.placeOrder(trade.contract, order)
        return OrderReply(accepted=True, status=record.status)

    async def _status_seen(self, seen: TradeStatusSeen) -> None:
        record = self.orders.get(seen.order_ref)
        if record is None:
            return  # not a MATS order, or one from before a restart not yet rebuilt
        state = IB_STATES.get(seen.ib_status, record.status.state)
        if state is OrderState.SUBMITTED and seen.filled > 0:
            state = OrderState.PARTIALLY_FILLED
        was_done = record.status.state.is_done
        if was_done and not state.is_done:
            return  # a late report from the other client: an order never comes back to life
        updated = msgspec.structs.replace(
            record.status,
            state=state,
            filled=seen.filled,
            remaining=seen.remaining if not state.is_done else 0.0,
            avg_fill_price=seen.avg_fill_price,
            perm_id=seen.perm_id or record.status.perm_id,
            reason=seen.reason or record.status.reason,
            at=datetime.now(UTC),
        )
        if same_status(updated, record.status):
            return
        record.status = updated
        if state.is_done and record.trade is not None:
            # nothing more to send for it: let ib_async's Trade go (ManagedClient prunes its own tables)
            record.trade.statusEvent -= self._on_trade
            record.trade = None
        if state.is_done and not was_done:
            self._order_finished(record.order_ref)
        await self.journal.record_order_event(updated)
        self._announce(updated)
        if self.route is not None:
            result = self.route(updated.strategy_id, updated)
            if result is not None:
                await result

    async def _reject(self, record: _Order, reason: str) -> OrderReply:
        rejected = msgspec.structs.replace(
            record.status, state=OrderState.REJECTED, remaining=0.0, reason=reason, at=datetime.now(UTC)
        )
        record.status = rejected
        self._order_finished(record.order_ref)
        await self.journal.record_order_event(rejected)
        self.log.warning("order.rejected", order_ref=record.order_ref, reason=reason)
        self._announce(rejected)
        return OrderReply(accepted=False, status=rejected)

    # --- ib_async callbacks (synchronous, on the loop) --------------------------------------------------

    def _on_trade(self, trade: Trade) -> None:
        ref = trade.order.orderRef
        if ref and ref in self.orders:
            self.tell_nowait(status_seen(trade))

    # --- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _status(request: OrderRequest, order_ref: str, state: OrderState, *, remaining: float) -> OrderStatus:
        return OrderStatus(
            order_ref=OrderRef(order_ref),
            strategy_id=StrategyId(request.strategy_id),
            symbol=request.symbol,
            state=state,
            qty=request.qty,
            remaining=remaining,
            at=datetime.now(UTC),
        )

    def kept(self) -> list[Kept]:
        return [
            Kept("finished_orders", len(self._finished), self.keep_finished),
            Kept("finished_refs", len(self._forgotten), self._forgotten.keep),
        ]

    def _order_finished(self, order_ref: str) -> None:
        """Keep the newest finished orders in memory; older ones live in the journal and ``{account}/orders``.

        A long day is tens of thousands of orders; each one kept made every reconciliation and kill switch
        walk further and the heap (and the garbage collector's work) grow with the day."""
        self._finished.append(order_ref)
        while len(self._finished) > self.keep_finished:
            oldest = self._finished.popleft()
            record = self.orders.get(oldest)
            if record is not None and record.status.state.is_done:
                del self.orders[oldest]
                self._forgotten.add(oldest)

    def _risk_rejected(self, request: OrderRequest, reason: str) -> None:
        self.log.warning("order.risk_rejected", strategy_id=request.strategy_id, reason=reason)
        if self.bus is not None:
            self.bus.publish(
                RiskRejected(strategy_id=request.strategy_id, symbol=request.symbol, reason=reason)
            )

    def _announce(self, status: OrderStatus) -> None:
        if self.risk is not None:
            self.risk.order_status(status)  # open-order and working-quantity counters
        if self.bus is not None:
            self.bus.publish(OrderStatusChanged(status=status))
