"""LiveBroker: the ``Broker`` live strategies talk to; orders go to the TradeManager, fills come back.

``place_order`` returns the handle at once; ``await handle`` resolves when the TradeManager has
journaled the order and sent it (or refused it: then ``handle.status`` is Rejected and ``handle.reason``
says why). Order statuses and fills reach the handles through the hosting ``StrategyActor``, in the
strategy's own mailbox order, so a strategy never sees its state change under its feet mid-handler.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pandas as pd
import structlog

from mats.accounting import Ledger, flat_position
from mats.brokers.base import Broker, OrderRejected
from mats.brokers.orders import OrderHandle, validate_order
from mats.brokers.schedule import ScheduledJob
from mats.instruments import Instrument, InstrumentResolver
from mats.messages import CancelOrder, ModifyOrder, PlaceOrder
from mats.model import Fill, OrderRequest, OrderState, OrderStatus, Position, make_order_ref
from mats.ulids import UlidFactory

log = structlog.get_logger("mats.brokers.live")

FORGET_FINISHED_AFTER = 60.0  # seconds a finished order's handle stays reachable for late reports

Ask = Callable[[Any], "asyncio.Future[Any]"]  # queue a command with the TradeManager; the reply


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
        self._handles: dict[str, OrderHandle] = {}  # every order of the last ``forget_after`` seconds
        self._working: dict[str, OrderHandle] = {}  # orders not yet done: what ``open_orders`` reads
        self._finished: deque[tuple[float, str]] = deque()  # (when it finished, orderRef), oldest first
        self.forget_after = FORGET_FINISHED_AFTER
        self._accepted: dict[str, asyncio.Future[OrderHandle]] = {}
        self._done: dict[str, asyncio.Future[OrderHandle]] = {}
        self._ulids = UlidFactory()  # each orderRef's tail, sorting after every earlier one

    def unregister(self, strategy_id: str) -> None:
        self._listeners.pop(strategy_id, None)
        self._allocations.pop(strategy_id, None)

    # --- orders ---------------------------------------------------------------------------------------

    def submit(self, request: OrderRequest, instrument: Instrument) -> OrderHandle:
        if request.con_id is None:
            request = msgspec.structs.replace(request, con_id=instrument.con_id)
        order_ref = make_order_ref(request.strategy_id, self._ulids.new())
        handle = OrderHandle(self, order_ref, request, instrument)
        loop = asyncio.get_running_loop()
        self._handles[order_ref] = self._working[order_ref] = handle
        self._accepted[order_ref] = loop.create_future()
        self._done[order_ref] = loop.create_future()
        self._place(handle)
        return handle

    def _place(self, handle: OrderHandle) -> None:
        """Hand the order to the TradeManager now: no task in between on the tick-to-order path."""
        try:
            reply = self._ask(PlaceOrder(request=handle.request, order_ref=handle.order_ref))
        except Exception as exc:
            self._deliver(self._rejected(handle, f"order could not be sent: {exc!r}"))
            return
        reply.add_done_callback(lambda done: self._placed(handle, done))

    def _placed(self, handle: OrderHandle, done: asyncio.Future[Any]) -> None:
        exc = done.exception()
        if exc is not None:
            self._deliver(self._rejected(handle, f"order could not be sent: {exc!r}"))
            return
        reply = done.result()
        accepted = self._accepted.get(handle.order_ref)
        if reply.accepted and accepted is not None and not accepted.done():
            accepted.set_result(handle)  # journaled and sent: what ``await place_order(...)`` waits for
        self._deliver(reply.status)

    def _ask(self, command: Any) -> asyncio.Future[Any]:
        """The TradeManager's reply, failed with TimeoutError if it takes longer than ``ask_timeout``."""
        reply = self._ask_trades(command)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.ask_timeout, _expire, reply, self.ask_timeout)
        reply.add_done_callback(lambda _: timer.cancel())
        return reply

    def cancel(self, handle: OrderHandle) -> None:
        if handle.is_done:
            raise OrderRejected(
                f"order {handle.order_ref} is already {handle.status.value}; nothing to cancel"
            )
        self._ask(CancelOrder(order_ref=handle.order_ref)).add_done_callback(_log_failure)

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
        self._ask(command).add_done_callback(lambda done: self._modified(handle, old, done))

    def _modified(self, handle: OrderHandle, before: OrderRequest, done: asyncio.Future[Any]) -> None:
        """A change refused (by the risk checks, or an order already done) leaves the handle as IB has it."""
        reply = None if done.exception() is not None else done.result()
        if reply is None or not reply.accepted:
            handle.request = before
            reason = reply.status.reason if reply is not None else repr(done.exception())
            log.warning("order.modify_refused", order_ref=handle.order_ref, reason=reason)

    def wait_accepted(self, handle: OrderHandle) -> Awaitable[OrderHandle]:
        return _shielded(self._accepted.get(handle.order_ref), handle)

    def wait_filled(self, handle: OrderHandle) -> Awaitable[OrderHandle]:
        return _shielded(self._done.get(handle.order_ref), handle)

    def open_orders(self, strategy_id: str) -> list[OrderHandle]:
        return [h for h in self._working.values() if h.request.strategy_id == strategy_id and not h.is_done]

    def forget_finished(self, now: float | None = None) -> int:
        """Let finished orders go once late reports (a fill after its status) have had time to come.

        A busy day is tens of thousands of orders; keeping every handle and its futures grew the heap by
        each of them, and ``open_orders`` walked them all on every bar."""
        now = time.monotonic() if now is None else now
        forgotten = 0
        while self._finished and now - self._finished[0][0] >= self.forget_after:
            _, order_ref = self._finished.popleft()
            for table in (self._handles, self._accepted, self._done):
                table.pop(order_ref, None)
            forgotten += 1
        return forgotten

    # --- what the hosting actor feeds back ------------------------------------------------------------

    def on_status(self, status: OrderStatus) -> None:
        self.settle(status)
        self.notify_status(status)

    def settle(self, status: OrderStatus) -> None:
        """The handle, and whoever awaits it (``await place_order``, ``handle.filled()``), learn the status.

        Called as the status arrives, before it waits in the strategy's mailbox: a strategy awaiting its
        own order inside a handler is the one thing that mailbox is waiting for (a refusal once hung a
        strategy for good that way). Call each status once, in order: the handle takes the newest."""
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
            if self._working.pop(status.order_ref, None) is not None:
                now = time.monotonic()
                self._finished.append((now, status.order_ref))
                self.forget_finished(now)

    def notify_status(self, status: OrderStatus) -> None:
        """The strategy's status callback, in its own turn when an actor hosts it."""
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


def _shielded(future: asyncio.Future[OrderHandle] | None, handle: OrderHandle) -> Awaitable[OrderHandle]:
    """The future, shielded; for an order already forgotten (long done), the handle at once."""
    if future is None:
        future = asyncio.get_running_loop().create_future()
        future.set_result(handle)
    return asyncio.shield(future)


def _expire(reply: asyncio.Future[Any], after: float) -> None:
    if not reply.done():
        reply.set_exception(TimeoutError(f"no reply from the TradeManager within {after:g} s"))


def _log_failure(done: asyncio.Future[Any]) -> None:
    exc = done.exception()
    if exc is not None:
        log.warning("broker.command_failed", error=repr(exc))
