"""LiveBroker: the ``Broker`` live strategies talk to; orders go to the TradeManager, fills come back.

``place_order`` returns the handle at once; ``await handle`` resolves when the TradeManager has
journaled the order and sent it (or refused it: then ``handle.status`` is Rejected and ``handle.reason``
says why). Order statuses and fills reach the handles through the hosting ``StrategyActor``, in the
strategy's own mailbox order, so a strategy never sees its state change under its feet mid-handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pandas as pd
import structlog
from ulid import ULID

from mats.accounting import Ledger, flat_position
from mats.brokers.base import Broker, OrderRejected
from mats.brokers.orders import OrderHandle, validate_order
from mats.brokers.schedule import ScheduledJob
from mats.instruments import Instrument, InstrumentResolver
from mats.messages import CancelOrder, ModifyOrder, PlaceOrder
from mats.model import Fill, OrderRequest, OrderState, OrderStatus, Position, make_order_ref

log = structlog.get_logger("mats.brokers.live")

Ask = Callable[[Any], Awaitable[Any]]


class LiveBroker(Broker):
    def __init__(
        self,
        instruments: InstrumentResolver,
        *,
        ask_trades: Ask,
        total_equity: Callable[[], float],
        position_of: Callable[[str, int], Position | None] | None = None,
        base_currency: str = "USD",
        schedule: Callable[[ScheduledJob], None] | None = None,
        deliver: Callable[[OrderStatus], None] | None = None,
        ask_timeout: float = 30.0,
    ) -> None:
        super().__init__(instruments, base_currency)
        self._ask_trades = ask_trades
        self._total_equity = total_equity
        self._schedule = schedule
        # How a status reaches ``on_status``: through the strategy's mailbox when an actor hosts it.
        self._deliver: Callable[[OrderStatus], None] = deliver or self.on_status
        self.ask_timeout = ask_timeout
        # Positions come from the PortfolioManager's books when given (one set of books, replayed from
        # the journal); a broker on its own keeps a ledger of the fills it is told about.
        self.ledger: Ledger | None = None if position_of is not None else Ledger(base_currency)
        self._position_of = position_of or self._own_position
        self._handles: dict[str, OrderHandle] = {}
        self._accepted: dict[str, asyncio.Future[OrderHandle]] = {}
        self._done: dict[str, asyncio.Future[OrderHandle]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def unregister(self, strategy_id: str) -> None:
        self._listeners.pop(strategy_id, None)
        self._allocations.pop(strategy_id, None)

    # --- orders ---------------------------------------------------------------------------------------

    def submit(self, request: OrderRequest, instrument: Instrument) -> OrderHandle:
        if request.con_id is None:
            request = msgspec.structs.replace(request, con_id=instrument.con_id)
        order_ref = make_order_ref(request.strategy_id, str(ULID()))
        handle = OrderHandle(self, order_ref, request, instrument)
        loop = asyncio.get_running_loop()
        self._handles[order_ref] = handle
        self._accepted[order_ref] = loop.create_future()
        self._done[order_ref] = loop.create_future()
        self._spawn(self._place(handle))
        return handle

    async def _place(self, handle: OrderHandle) -> None:
        try:
            reply = await asyncio.wait_for(
                self._ask_trades(PlaceOrder(request=handle.request, order_ref=handle.order_ref)),
                self.ask_timeout,
            )
        except Exception as exc:
            self._deliver(self._rejected(handle, f"order could not be sent: {exc!r}"))
            return
        accepted = self._accepted[handle.order_ref]
        if reply.accepted and not accepted.done():
            accepted.set_result(handle)  # journaled and sent: what ``await place_order(...)`` waits for
        self._deliver(reply.status)

    def cancel(self, handle: OrderHandle) -> None:
        if handle.is_done:
            raise OrderRejected(
                f"order {handle.order_ref} is already {handle.status.value}; nothing to cancel"
            )
        self._spawn(self._ask_trades(CancelOrder(order_ref=handle.order_ref)))

    def modify(
        self,
        handle: OrderHandle,
        *,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> None:
        if handle.is_done:
            raise OrderRejected(
                f"order {handle.order_ref} is already {handle.status.value}; it cannot be modified"
            )
        if qty is not None and (qty > 0) != (handle.request.qty > 0):
            raise OrderRejected(
                f"modify cannot change the side of an order: {handle.request.qty:+g} → {qty:+g}"
            )
        old = handle.request
        handle.request = msgspec.structs.replace(
            validate_order(
                old.strategy_id,
                handle.instrument,
                old.qty if qty is None else qty,
                old.limit_price if limit_price is None else limit_price,
                old.stop_price if stop_price is None else stop_price,
                str(old.tif),
            ),
            con_id=old.con_id,
        )
        command = ModifyOrder(
            order_ref=handle.order_ref,
            qty=qty,
            limit_price=handle.request.limit_price if limit_price is not None else None,
            stop_price=handle.request.stop_price if stop_price is not None else None,
        )
        self._spawn(self._ask_trades(command))

    def wait_accepted(self, handle: OrderHandle) -> Awaitable[OrderHandle]:
        return asyncio.shield(self._accepted[handle.order_ref])

    def wait_filled(self, handle: OrderHandle) -> Awaitable[OrderHandle]:
        return asyncio.shield(self._done[handle.order_ref])

    def open_orders(self, strategy_id: str) -> list[OrderHandle]:
        return [h for h in self._handles.values() if h.request.strategy_id == strategy_id and not h.is_done]

    # --- what the hosting actor feeds back ------------------------------------------------------------

    def on_status(self, status: OrderStatus) -> None:
        handle = self._handles.get(status.order_ref)
        if handle is None:
            return
        handle.status = status.state
        handle.filled_qty = max(handle.filled_qty, status.filled)
        if status.avg_fill_price:
            handle.avg_fill_price = status.avg_fill_price
        if status.reason:
            handle.reason = status.reason
        accepted = self._accepted[status.order_ref]
        if not accepted.done() and status.state is not OrderState.PENDING:
            accepted.set_result(handle)  # a refusal, or IB's answer overtaking the TradeManager's reply
        if status.state.is_done and not self._done[status.order_ref].done():
            self._done[status.order_ref].set_result(handle)
        listener = self._listeners.get(status.strategy_id)
        if listener is not None and listener.wants_statuses:
            listener.notify_status(status)

    def on_fill(self, fill: Fill) -> None:
        if self.ledger is not None:
            self.ledger.book(fill)
        handle = self._handles.get(fill.order_ref)
        if handle is not None:
            handle.fills.append(fill)
        listener = self._listeners.get(fill.strategy_id)
        if listener is not None and listener.wants_fills:
            listener.notify_fill(fill)

    # --- account views ----------------------------------------------------------------------------------

    def position(self, strategy_id: str, instrument: Instrument) -> Position:
        found = self._position_of(strategy_id, instrument.con_id)
        return found or flat_position(
            strategy_id, instrument.con_id, instrument.key, instrument.currency, instrument.multiplier
        )

    def total_equity(self) -> float:
        return self._total_equity()

    def history(
        self, instrument: Instrument, start: datetime | None, end: datetime | None, bar_size: str | None
    ) -> pd.DataFrame:
        # ArcticDB first, IB history to fill gaps comes with the data issue; live strategies keep their
        # own rolling windows from the bars they are sent.
        return pd.DataFrame(
            columns=["open", "high", "low", "close", "volume"], index=pd.DatetimeIndex([], tz=UTC)
        )

    def now(self) -> datetime:
        return datetime.now(UTC)

    def schedule(self, job: ScheduledJob) -> None:
        if self._schedule is None:
            raise OrderRejected("this broker has no scheduler")
        self._schedule(job)

    # --- helpers ------------------------------------------------------------------------------------

    def _own_position(self, strategy_id: str, con_id: int) -> Position | None:
        return self.ledger.position(strategy_id, con_id) if self.ledger is not None else None

    def _rejected(self, handle: OrderHandle, reason: str) -> OrderStatus:
        log.warning("order.not_sent", order_ref=handle.order_ref, reason=reason)
        return OrderStatus(
            order_ref=handle.order_ref,
            strategy_id=handle.request.strategy_id,
            symbol=handle.request.symbol,
            state=OrderState.REJECTED,
            qty=handle.request.qty,
            reason=reason,
            at=datetime.now(UTC),
        )

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
