"""The matching engine and order book of the one simulated account, shared by every session.

Orders are keyed by (clientId, orderId) as TWS keys them, so only the placing client can modify or
cancel; manual (TWS-typed) orders have orderId 0 and are keyed by permId. Every state change is
published as an event; the server decides who hears about it.

Memory stays bounded however long it runs (a gateway left up for weeks, or a soak at 20x): working orders
are all kept; of the finished ones only the newest ``KEEP_FINISHED_ORDERS`` (what ``reqCompletedOrders``
and the admin endpoint answer from); executions are kept for the current trading day only
(midnight New York on the virtual clock), which is what ``reqExecutions`` returns at IB too.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from .account import INITIAL_MARGIN_RATE, Account, Holding
from .clock import Clock, Timer, ib_time
from .codec import UNSET_DOUBLE
from .commissions import commission_currency, order_commission
from .contracts import ContractBook, ContractQuery, ContractSpec
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
from .orders import (
    MANUAL_CLIENT_ID,
    SUPPORTED_TIFS,
    SUPPORTED_TYPES,
    CommissionReport,
    Execution,
    OrderTicket,
    OrderView,
    SimOrder,
    Status,
)
from .prices import PriceWalk

log = logging.getLogger("mats.sim.exchange")

#: Finished (filled, cancelled, rejected) orders kept, newest first out; older ones are forgotten: their
#: orderIds are never handed out again (``reserve_ids``), their executions stay until the day rolls.
KEEP_FINISHED_ORDERS = 2_000
#: Executions belong to the day (New York) they happened on; ``reqExecutions`` answers the current one.
EXECUTION_DAY_ZONE = ZoneInfo("America/New_York")


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """How the simulated venue behaves; every field has the default `mats sim` uses."""

    account: str = "DU0000001"
    base_currency: str = "USD"
    initial_cash: float = 1_000_000.0
    seed: int = 1
    fill_latency: float = 0.0
    fill_slices: int = 1


class OrderError(Exception):
    """A request about an order that TWS answers with an error code and nothing else."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Exchange:
    def __init__(
        self,
        config: ExchangeConfig,
        contracts: ContractBook,
        prices: PriceWalk,
        clock: Clock,
        publish: Callable[[ExchangeEvent], None],
    ) -> None:
        self.config = config
        self.contracts = contracts
        self.prices = prices
        self.clock = clock
        self._publish = publish
        self.fill_latency = config.fill_latency
        self.fill_slices = config.fill_slices
        self.account = Account(
            config.account,
            config.base_currency,
            mark=prices.price,
            fx_rate=self.fx_rate,
            cash={config.base_currency: config.initial_cash},
        )
        rng = random.Random(config.seed)
        self._exec_prefix = f"{rng.randrange(1 << 16):08x}"
        self._exec_seq = itertools.count(0x65000000 + rng.randrange(1 << 20))
        self._perm_ids = itertools.count(1_000_000_000 + rng.randrange(1_000_000) * 100)
        self._orders: dict[int, SimOrder] = {}  # by permId, in placement order
        self._working: dict[int, SimOrder] = {}  # the not-yet-done subset, so repricing stays cheap
        self._api_orders: dict[tuple[int, int], int] = {}  # (clientId, orderId) → permId
        self._next_ids: dict[int, int] = {}
        self._timers: dict[int, Timer] = {}  # permId → pending slice
        self._finished: deque[int] = deque()  # permIds of finished orders still in _orders, oldest first
        self._executions: deque[tuple[Execution, CommissionReport]] = deque()  # today's, oldest first
        self._execution_days: deque[dt.date] = deque()  # the trading day of each of _executions
        self._reject_next: list[str] = []

    # ----------------------------------------------------------------- queries

    def fx_rate(self, currency: str) -> float:
        """Units of base currency per unit of `currency`, from the FX pair's current price."""
        if currency == self.config.base_currency or currency == "BASE":
            return 1.0
        for spec in self.contracts:
            if (
                spec.sec_type == "CASH"
                and spec.symbol == currency
                and spec.currency == self.config.base_currency
            ):
                return self.prices.price(spec.con_id)
            if (
                spec.sec_type == "CASH"
                and spec.currency == currency
                and spec.symbol == self.config.base_currency
            ):
                return 1.0 / self.prices.price(spec.con_id)
        return 1.0

    def next_order_id(self, client_id: int) -> int:
        return self._next_ids.get(client_id, 1)

    def reserve_ids(self, client_id: int, first: int) -> None:
        self._next_ids[client_id] = max(self.next_order_id(client_id), first)

    def orders(self) -> list[OrderView]:
        return [o.view() for o in self._orders.values()]

    def open_orders(self, client_id: int | None = None) -> list[OrderView]:
        """Working orders of one client (None: of everybody), oldest first."""
        return [o.view() for o in self._working.values() if client_id is None or o.client_id == client_id]

    def completed_orders(self, api_only: bool) -> list[OrderView]:
        return [o.view() for o in self._orders.values() if o.is_done and not (api_only and o.is_manual)]

    def executions(self) -> list[tuple[Execution, CommissionReport]]:
        """The current trading day's executions, oldest first (IB's ``reqExecutions`` answer)."""
        self._roll_executions()
        return list(self._executions)

    def _trading_day(self) -> dt.date:
        return self.clock.now().astimezone(EXECUTION_DAY_ZONE).date()

    def _roll_executions(self) -> None:
        """Forget executions of days before today: no client can ask for them any more."""
        today = self._trading_day()
        while self._execution_days and self._execution_days[0] < today:
            self._execution_days.popleft()
            self._executions.popleft()

    # ------------------------------------------------------------ order entry

    def place(self, client_id: int, order_id: int, query: ContractQuery, ticket: OrderTicket) -> None:
        """New order or modification; raises OrderError for answers that are an error code only."""
        if order_id <= 0:
            raise OrderError(321, f"Invalid order id {order_id}: API order ids are positive.")
        self.reserve_ids(client_id, order_id + 1)
        perm_id = self._api_orders.get((client_id, order_id))
        if perm_id is not None:
            self._modify(self._orders[perm_id], ticket)
            return
        spec = self.contracts.resolve(query)
        if spec is None:
            raise OrderError(200, "No security definition has been found for the request")
        if ticket.what_if:
            self._answer_what_if(client_id, order_id, spec, ticket)
            return
        self._check_ticks(spec, ticket)
        order = SimOrder(client_id, order_id, next(self._perm_ids), spec, ticket)
        self._orders[order.perm_id] = order
        self._api_orders[(client_id, order_id)] = order.perm_id
        self._accept(order)

    def place_manual(self, spec: ContractSpec, ticket: OrderTicket) -> OrderView:
        """An order typed into TWS: no API owner, orderId 0, seen by the master client and client 0."""
        order = SimOrder(MANUAL_CLIENT_ID, 0, next(self._perm_ids), spec, ticket)
        self._orders[order.perm_id] = order
        self._accept(order)
        return order.view()

    def cancel(self, client_id: int, order_id: int, reason: str = "") -> None:
        perm_id = self._api_orders.get((client_id, order_id))
        if perm_id is None:
            raise OrderError(10147, f"OrderId {order_id} that needs to be cancelled is not found.")
        order = self._orders[perm_id]
        if order.is_done:
            raise OrderError(
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {order.status}.",
            )
        self._cancel(order, reason)

    def global_cancel(self) -> int:
        """Cancel every working order of every client and of TWS itself; returns how many."""
        working = list(self._working.values())
        for order in working:
            self._cancel(order, "global cancel")
        return len(working)

    def end_of_day(self) -> int:
        """Expire DAY orders as the session close does; GTC orders keep working."""
        day = [o for o in self._working.values() if o.ticket.tif == "DAY"]
        for order in day:
            self._cancel(order, "day order expired")
        return len(day)

    def reject_next(self, reason: str) -> None:
        """Make the next new order fail validation with `reason` (as a risk check at IB would)."""
        self._reject_next.append(reason)

    # ------------------------------------------------------------------ prices

    def set_price(self, con_id: int, price: float, size: float = 100.0) -> None:
        """A print at `price` (size 0: a quote move only); ticks go out before the fills it causes."""
        self.prices.set(con_id, price)
        self._publish(PricesMoved((con_id,), size))
        self._reprice(con_id)

    def step_prices(self) -> None:
        moved = self.prices.step()
        if moved:
            self._publish(PricesMoved(tuple(moved)))
        for con_id in {o.contract.con_id for o in self._working.values()}:
            self._reprice(con_id)

    def _reprice(self, con_id: int) -> None:
        for order in [o for o in self._working.values() if o.contract.con_id == con_id]:
            if order.perm_id not in self._timers:
                self._work(order)

    # --------------------------------------------------------------- lifecycle

    def _rejection(self, spec: ContractSpec, t: OrderTicket) -> str:
        if self._reject_next:
            return self._reject_next.pop(0)
        if t.unsupported:
            return t.unsupported
        if t.order_type not in SUPPORTED_TYPES:
            return f"order type {t.order_type!r} is not supported by the simulator (MKT, LMT, STP, STP LMT)"
        if t.tif not in SUPPORTED_TIFS:
            return f"time in force {t.tif!r} is not supported by the simulator (DAY, GTC, IOC)"
        if t.action not in ("BUY", "SELL"):
            return f"action must be BUY or SELL, got {t.action!r}"
        if not t.total_quantity > 0:
            return f"quantity must be positive, got {t.total_quantity}"
        if any(math.isinf(p) for p in (t.lmt_price, t.aux_price)) or any(
            p <= 0 for p in (t.lmt_price, t.aux_price)
        ):
            return (
                f"prices must be positive and finite, got limit {_p(t.lmt_price)} and stop {_p(t.aux_price)}"
            )
        if t.order_type in ("LMT", "STP LMT") and t.lmt_price == UNSET_DOUBLE:
            return f"{t.order_type} order needs a limit price"
        if t.order_type in ("STP", "STP LMT") and t.aux_price == UNSET_DOUBLE:
            return f"{t.order_type} order needs a stop price"
        if t.account and t.account != self.config.account:
            return f"account {t.account!r} is not managed by this gateway"
        if t.parent_id or not t.transmit or t.oca_group:
            return "bracket, untransmitted and OCA orders are not supported by the simulator"
        if t.cash_qty != UNSET_DOUBLE:
            return "cash quantity orders are not supported by the simulator"
        return ""

    def _check_ticks(self, spec: ContractSpec, t: OrderTicket) -> None:
        for price in (t.lmt_price, t.aux_price):
            if price == UNSET_DOUBLE or not math.isfinite(price):
                continue
            if abs(price / spec.min_tick - round(price / spec.min_tick)) > 1e-6:
                raise OrderError(
                    110, "The price does not conform to the minimum price variation for this contract."
                )

    def _accept(self, order: SimOrder) -> None:
        reason = self._rejection(order.contract, order.ticket)
        if reason:
            order.status = Status.INACTIVE
            self._complete(order, "Rejected")
            log.info(
                "order.rejected perm_id=%s client_id=%s reason=%s", order.perm_id, order.client_id, reason
            )
            self._publish(OrderRejected(order.view(), reason))
            return
        stop = order.ticket.order_type in ("STP", "STP LMT")
        order.status = Status.PRE_SUBMITTED if stop else Status.SUBMITTED
        self._working[order.perm_id] = order
        t = order.ticket
        log.info(
            "order.accepted perm_id=%s client_id=%s order_id=%s %s %s %s %s lmt=%s aux=%s tif=%s ref=%s",
            order.perm_id, order.client_id, order.order_id, t.action, t.total_quantity,
            order.contract.local_symbol, t.order_type, _p(t.lmt_price), _p(t.aux_price), t.tif, t.order_ref,
        )  # fmt: skip
        self._publish(OrderChanged(order.view()))
        self._schedule(order, self.fill_latency)

    def _modify(self, order: SimOrder, ticket: OrderTicket) -> None:
        if order.status is Status.FILLED:
            raise OrderError(104, "Can't modify a filled order.")
        if order.is_done:
            raise OrderError(103, "Duplicate order id")
        self._check_ticks(order.contract, ticket)
        if ticket.total_quantity < order.filled:
            raise OrderError(
                105, "Order being modified does not match original order: quantity below filled."
            )
        if ticket.order_type != order.ticket.order_type:
            order.triggered = False
        order.ticket = replace(ticket, action=order.ticket.action)
        order.rested = False
        log.info(
            "order.modified perm_id=%s qty=%s lmt=%s",
            order.perm_id,
            ticket.total_quantity,
            _p(ticket.lmt_price),
        )
        if order.remaining == 0:
            order.status = Status.FILLED
            self._complete(order, f"Filled Size: {order.filled}")
        self._publish(OrderChanged(order.view()))
        if not order.is_done and order.perm_id not in self._timers:
            self._schedule(order, 0.0)

    def _cancel(self, order: SimOrder, reason: str) -> None:
        timer = self._timers.pop(order.perm_id, None)
        if timer is not None:
            timer.cancel()
        order.status = Status.CANCELLED
        self._complete(order, "Cancelled by Trader" if not reason else f"Cancelled: {reason}")
        log.info("order.cancelled perm_id=%s client_id=%s reason=%s", order.perm_id, order.client_id, reason)
        self._publish(OrderCancelled(order.view(), reason))

    def _complete(self, order: SimOrder, status_text: str) -> None:
        self._working.pop(order.perm_id, None)
        order.completed_time = ib_time(self.clock.now())
        order.completed_status = status_text
        if order.perm_id in self._orders:
            self._finished.append(order.perm_id)
            while len(self._finished) > KEEP_FINISHED_ORDERS:
                self._forget(self._finished.popleft())

    def _forget(self, perm_id: int) -> None:
        """Drop a finished order that fell out of the newest ``KEEP_FINISHED_ORDERS``."""
        order = self._orders.pop(perm_id, None)
        if order is not None and not order.is_manual:
            self._api_orders.pop((order.client_id, order.order_id), None)

    def _schedule(self, order: SimOrder, delay: float) -> None:
        if delay <= 0:
            self._work(order)
            return

        def run() -> None:
            self._timers.pop(order.perm_id, None)
            self._work(order)

        self._timers[order.perm_id] = self.clock.call_later(delay, run)

    def _work(self, order: SimOrder) -> None:
        """Match what can be matched now: one slice per latency step, all slices at once without latency."""
        while not order.is_done:
            price = self.prices.price(order.contract.con_id)
            t = order.ticket
            if t.order_type in ("STP", "STP LMT") and not order.triggered:
                if not _stop_hit(t, price):
                    if t.tif == "IOC":
                        self._cancel(order, "IOC stop not triggered")
                    return
                order.triggered = True
                order.status = Status.SUBMITTED
                self._publish(OrderChanged(order.view()))
            fill_price = self._fill_price(order, price)
            if fill_price is None:
                if t.tif == "IOC":
                    self._cancel(order, "IOC order could not be filled")
                return
            self._fill(order, min(order.remaining, self._slice(order)), fill_price)
            if order.is_done:
                return
            if t.tif == "IOC":
                self._cancel(order, "IOC remainder")
                return
            if self.fill_latency > 0:
                self._schedule(order, self.fill_latency)
                return

    def _fill_price(self, order: SimOrder, price: float) -> float | None:
        t = order.ticket
        if t.order_type == "MKT" or t.order_type == "STP":
            return price
        buy = t.action == "BUY"
        if (buy and price <= t.lmt_price) or (not buy and price >= t.lmt_price):
            return t.lmt_price if order.rested else price
        order.rested = True
        return None

    def _slice(self, order: SimOrder) -> Decimal:
        total = order.ticket.total_quantity
        slices = max(1, self.fill_slices)
        size = total / slices
        if total == total.to_integral_value():
            size = size.to_integral_value(rounding=ROUND_CEILING)
        return max(size, Decimal(1) if total >= 1 else total)

    def _fill(self, order: SimOrder, qty: Decimal, price: float) -> None:
        spec = order.contract
        mult = spec.multiplier_value
        filled = order.filled + qty
        notional = (order.avg_fill_price * float(order.filled) + price * float(qty)) * mult
        total_commission = order_commission(spec, filled, notional)
        commission = round(total_commission - order.commission, 6)
        order.avg_fill_price = round(notional / mult / float(filled), 8)
        order.filled = filled
        order.last_fill_price = price
        order.commission = total_commission
        if order.remaining == 0:
            order.status = Status.FILLED
            self._complete(order, f"Filled Size: {order.filled}")
        signed = qty if order.ticket.action == "BUY" else -qty
        realized = self.account.apply_fill(spec, signed, price, commission)
        exec_id = f"{self._exec_prefix}.{next(self._exec_seq):08x}.01.01"
        order.exec_ids.append(exec_id)
        execution = Execution(
            exec_id=exec_id,
            time=ib_time(self.clock.now()),
            account=self.config.account,
            exchange=spec.primary_exchange,
            side="BOT" if order.ticket.action == "BUY" else "SLD",
            shares=qty,
            price=price,
            perm_id=order.perm_id,
            client_id=order.client_id,
            order_id=order.order_id,
            cum_qty=filled,
            avg_price=order.avg_fill_price,
            order_ref=order.ticket.order_ref,
            contract=spec,
            model_code=order.ticket.model_code,
        )
        report = CommissionReport(exec_id, commission, commission_currency(spec), realized)
        self._roll_executions()
        self._executions.append((execution, report))
        self._execution_days.append(self._trading_day())
        log.info(
            "order.filled perm_id=%s client_id=%s order_id=%s %s %s %s @ %s exec_id=%s commission=%s",
            order.perm_id, order.client_id, order.order_id, execution.side, qty, spec.local_symbol, price,
            exec_id, commission,
        )  # fmt: skip
        self._publish(OrderFilled(order.view(), execution, report))
        self._publish(PositionChanged(spec.con_id))

    # ------------------------------------------------------------------ faults

    def correct_execution(self, exec_id: str, price: float | None, qty: Decimal | None) -> str:
        """Re-issue an execution as the next revision (`.01` → `.02`) with a new price and/or quantity.

        Only today's executions can be corrected (older ones are no longer held)."""
        self._roll_executions()
        found = [i for i, (e, _) in enumerate(self._executions) if e.exec_id == exec_id]
        if not found:
            raise KeyError(f"no execution {exec_id!r}")
        i = found[0]
        old, report = self._executions[i]
        base, _, revision = exec_id.rpartition(".")
        new_id = f"{base}.{int(revision) + 1:02d}"
        new_price = old.price if price is None else price
        new_qty = old.shares if qty is None else qty
        sign = 1 if old.side == "BOT" else -1
        self.account.apply_fill(old.contract, -sign * old.shares, old.price, 0.0)
        self.account.apply_fill(old.contract, sign * new_qty, new_price, 0.0)
        corrected = replace(old, exec_id=new_id, price=new_price, shares=new_qty)
        new_report = replace(report, exec_id=new_id)
        self._executions[i] = (corrected, new_report)
        log.warning("execution.corrected %s -> %s price=%s qty=%s", exec_id, new_id, new_price, new_qty)
        order = self._orders.get(old.perm_id)
        if order is not None:
            self._publish(ExecutionCorrected(order.view(), corrected, new_report))
        self._publish(PositionChanged(old.contract.con_id))
        return new_id

    def adjust_position(
        self,
        con_id: int,
        *,
        ratio: float | None = None,
        quantity: Decimal | None = None,
        avg_cost: float | None = None,
    ) -> None:
        """Change a holding with no execution: a split (`ratio`) or a plain new quantity/average cost."""
        spec = self.contracts.by_id(con_id)
        if spec is None:
            raise KeyError(f"no contract {con_id}")
        holding = self.account.holdings.setdefault(con_id, Holding(spec))
        if ratio is not None:
            if not ratio > 0:
                raise ValueError(f"split ratio must be positive, got {ratio}")
            holding.qty = holding.qty * Decimal(str(ratio))
            holding.avg_price /= ratio
            self.prices.set(con_id, self.prices.price(con_id) / ratio)
            self._publish(PricesMoved((con_id,), 0.0))
        if quantity is not None:
            holding.qty = quantity
        if avg_cost is not None:
            holding.avg_price = avg_cost / spec.multiplier_value
        log.warning("position.adjusted con_id=%s qty=%s avg_cost=%s", con_id, holding.qty, holding.avg_cost)
        self._publish(PositionChanged(con_id))

    def _answer_what_if(self, client_id: int, order_id: int, spec: ContractSpec, t: OrderTicket) -> None:
        price = t.lmt_price if t.lmt_price != UNSET_DOUBLE else self.prices.price(spec.con_id)
        notional = float(t.total_quantity) * price * spec.multiplier_value * self.fx_rate(spec.currency)
        init = round(notional * INITIAL_MARGIN_RATE.get(spec.sec_type, 0.25), 2)
        commission = order_commission(spec, t.total_quantity, notional)
        order = SimOrder(client_id, order_id, 0, spec, t, status=Status.PRE_SUBMITTED)
        self._publish(WhatIfAnswered(order.view(), (init, round(init * 0.8, 2), -commission)))


def _stop_hit(t: OrderTicket, price: float) -> bool:
    return price >= t.aux_price if t.action == "BUY" else price <= t.aux_price


def _p(value: float) -> str:
    return "" if value == UNSET_DOUBLE else f"{value:g}"
