"""A broker that fills orders against replayed bars, the way backtrader and IB's paper desk would.

An order placed while bar *t* is the latest known bar can fill from bar *t+1* on, at the prices of
:mod:`mats.brokers.fill_model`. IOC orders get one bar (its open); DAY orders live through the
exchange-local day of the first bar they could fill on; GTC until done. There are no partial fills.

Nothing is marked per bar. Positions change only at fills, so the broker records, at each fill, the
symbol's net quantity, its offset (minus the cost of margined futures) and the account's cash; the
replay turns those steps and the closes into the equity curve with numpy afterwards
(:func:`mats.backtest.equity.equity_curve`). ``total_equity()`` during the run looks the closes up.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Generator
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

import pandas as pd

from mats.accounting import FLAT_EPSILON, FixedRates, Ledger, RatesProvider, flat_position
from mats.brokers.base import Broker, OrderRejected
from mats.brokers.commission import CommissionModel, commission_model
from mats.brokers.fill_model import AtOpen, PriceBar, fill_price
from mats.brokers.orders import OrderHandle, check_qty, validate_order
from mats.brokers.schedule import ScheduledJob
from mats.instruments import Instrument, LocalInstrumentTable
from mats.model import (
    ConId,
    ExecId,
    Fill,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    make_order_ref,
)
from mats.ulids import time_digits

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CALENDAR_TZ = {
    "XNYS": "America/New_York",
    "XNAS": "America/New_York",
    "CMES": "America/Chicago",
    "XCBO": "America/Chicago",
    "XETR": "Europe/Berlin",
    "XLON": "Europe/London",
    "24/5": "America/New_York",
    "24/7": "UTC",
}


def ns_to_datetime(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


@functools.cache
def _zone(calendar: str) -> ZoneInfo:
    """The time zone whose dates bound DAY orders: the exchange calendar's zone."""
    name = _CALENDAR_TZ.get(calendar)
    if name is None:
        import exchange_calendars

        try:
            name = str(exchange_calendars.get_calendar(calendar).tz)
        except exchange_calendars.errors.InvalidCalendarName:
            name = "UTC"
    return ZoneInfo(name)


class MarketView(Protocol):
    """What the replay tells its broker: the symbols by index, how far time has got, and history."""

    symbols: list[str]
    visible_ns: int  # time of the latest bar anybody may see

    def history(
        self, key: str, start: datetime | None, end: datetime | None, bar_size: str | None
    ) -> pd.DataFrame: ...

    def schedule(self, job: ScheduledJob) -> None: ...

    def last_close(self, k: int) -> float:
        """The close of symbol ``k``'s latest visible bar (NaN before its first)."""
        ...


class StateChange(NamedTuple):
    """Symbol ``k``'s book after a fill at its bar of ``time_ns``: what the equity curve steps on."""

    time_ns: int
    k: int
    net_qty: float
    offset: float
    cash_base: float


class FillWaiter:
    """``await handle.filled()`` in a backtest: yields itself to the driver until the order is done."""

    __slots__ = ("handle",)

    def __init__(self, handle: OrderHandle) -> None:
        self.handle = handle

    @property
    def ready(self) -> bool:
        return self.handle.status.is_done

    def __await__(self) -> Generator[Any, None, OrderHandle]:
        while not self.handle.status.is_done:
            yield self
        return self.handle


class _Accepted:
    """Backtest acceptance is immediate, so awaiting a handle never suspends."""

    __slots__ = ("handle",)

    def __init__(self, handle: OrderHandle) -> None:
        self.handle = handle

    def __await__(self) -> Generator[Any, None, OrderHandle]:
        return self.handle
        yield  # a generator that returns at once


class _SimOrder:
    __slots__ = ("active_from_ns", "day", "handle", "k", "triggered", "tz")

    def __init__(self, handle: OrderHandle, k: int, active_from_ns: int, tz: ZoneInfo) -> None:
        self.handle = handle
        self.k = k
        self.active_from_ns = active_from_ns
        self.tz = tz
        self.day: date | None = None
        self.triggered = False


class BacktestBroker(Broker):
    def __init__(
        self,
        instruments: LocalInstrumentTable,
        market: MarketView,
        *,
        cash: float = 100_000.0,
        base_currency: str = "USD",
        commission: float | CommissionModel | None = None,
        slippage: float = 0.0,
        rates: RatesProvider | None = None,
    ) -> None:
        super().__init__(instruments, base_currency)
        if not 0.0 <= slippage < 1.0:
            raise ValueError(f"slippage is a fraction of price in [0, 1), got {slippage}")
        self.ledger = Ledger(base_currency, cash)
        self.rates = rates or FixedRates()
        self.commission = commission_model(commission)
        self.slippage = slippage
        self._market = market
        self._instruments = [instruments.resolve(key) for key in market.symbols]
        self._k_of = {inst.con_id: k for k, inst in enumerate(self._instruments)}
        n = len(self._instruments)
        self.open_by_k: list[list[_SimOrder]] = [[] for _ in range(n)]
        self._orders: dict[str, _SimOrder] = {}
        self._net_qty = [0.0] * n
        self._factor = [
            inst.multiplier * self.rates.rate(inst.currency, base_currency) for inst in self._instruments
        ]
        self._offset = [0.0] * n
        self._cash_base = self.ledger.cash_in_base(self.rates)
        self.initial_cash_base = self._cash_base
        self.changes: list[StateChange] = []
        self._order_seq = 0
        self._exec_seq = 0
        self.fills: list[Fill] = []
        self.closed_trades = 0

    # --- driven by the replay -------------------------------------------------------------------------

    @property
    def factors(self) -> list[float]:
        """Per symbol: multiplier × FX rate to the base currency."""
        return self._factor

    def match(self, k: int, bar: PriceBar) -> None:
        """Try every open order of symbol ``k`` against ``bar`` (orders placed during this call wait)."""
        for so in list(self.open_by_k[k]):
            if so.active_from_ns > bar.time_ns or so.handle.status.is_done:
                continue
            request = so.handle.request
            if request.tif is TimeInForce.DAY and request.order_type is not OrderType.MARKET:
                today = ns_to_datetime(bar.time_ns).astimezone(so.tz).date()
                if so.day is None:
                    so.day = today
                elif today != so.day:
                    self._finish(so, OrderState.CANCELLED, "DAY order expired at the end of its day")
                    continue
            seen = AtOpen(bar) if request.tif is TimeInForce.IOC else bar  # IOC: the open or nothing
            price, so.triggered = fill_price(request, seen, triggered=so.triggered, slippage=self.slippage)
            if price is not None:
                self._execute(so, bar, price)
            elif request.tif is TimeInForce.IOC:
                self._finish(so, OrderState.CANCELLED, "IOC order was not marketable at the open")

    def final_equity(self) -> float:
        """Equity recomputed from the ledger (no incremental rounding), at the last prices."""
        return self.ledger.equity(self._prices(), self.rates)

    # --- Broker ---------------------------------------------------------------------------------------

    def submit(self, request: OrderRequest, instrument: Instrument) -> OrderHandle:
        k = self._k_of.get(instrument.con_id)
        if k is None:
            raise OrderRejected(
                f"no bars for {instrument.key} in this backtest, so an order in it cannot fill"
            )
        self._order_seq += 1
        client_order_id = self._client_order_id(self._order_seq)
        handle = OrderHandle(self, make_order_ref(request.strategy_id, client_order_id), request, instrument)
        handle.status = OrderState.SUBMITTED
        so = _SimOrder(handle, k, self._market.visible_ns + 1, _zone(instrument.calendar))
        self.open_by_k[k].append(so)
        self._orders[handle.order_ref] = so
        self._notify_status(handle)
        return handle

    def cancel(self, handle: OrderHandle) -> None:
        so = self._orders.get(handle.order_ref)
        if so is not None and not handle.status.is_done:
            self._finish(so, OrderState.CANCELLED, "cancelled by the strategy")

    def modify(
        self,
        handle: OrderHandle,
        *,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> None:
        if handle.status.is_done:
            raise OrderRejected(
                f"order {handle.order_ref} is already {handle.status.value}; it cannot be modified"
            )
        old = handle.request
        if qty is not None and (check_qty(qty) > 0) != (old.qty > 0):
            raise OrderRejected(f"modify cannot change the side of an order: {old.qty:+g} → {qty:+g}")
        handle.request = validate_order(
            old.strategy_id,
            handle.instrument,
            old.qty if qty is None else qty,
            old.limit_price if limit_price is None else limit_price,
            old.stop_price if stop_price is None else stop_price,
            old.tif.value,
        )
        self._notify_status(handle)

    def wait_accepted(self, handle: OrderHandle) -> Awaitable[OrderHandle]:
        return _Accepted(handle)

    def wait_filled(self, handle: OrderHandle) -> Awaitable[OrderHandle]:
        return FillWaiter(handle)

    def open_orders(self, strategy_id: str) -> list[OrderHandle]:
        return [
            so.handle
            for orders in self.open_by_k
            for so in orders
            if so.handle.request.strategy_id == strategy_id
        ]

    def position(self, strategy_id: str, instrument: Instrument) -> Position:
        pos = self.ledger.position(strategy_id, instrument.con_id)
        if pos is None:
            return flat_position(
                strategy_id, instrument.con_id, instrument.key, instrument.currency, instrument.multiplier
            )
        return pos

    def total_equity(self) -> float:
        equity = self._cash_base
        for k, qty in enumerate(self._net_qty):
            if qty or self._offset[k]:
                equity += qty * self._market.last_close(k) * self._factor[k] + self._offset[k]
        return equity

    def explicit_equity(self, strategy_id: str) -> float | None:
        """The allocated equity plus what the strategy has made since (the PortfolioManager's view live)."""
        explicit = super().explicit_equity(strategy_id)
        if explicit is None:
            return None
        return explicit + self.ledger.strategy_pnl(strategy_id, self._prices(), self.rates)

    def _prices(self) -> dict[ConId, float]:
        return {inst.con_id: self._market.last_close(k) for k, inst in enumerate(self._instruments)}

    def history(
        self, instrument: Instrument, start: datetime | None, end: datetime | None, bar_size: str | None
    ) -> pd.DataFrame:
        return self._market.history(instrument.key, start, end, bar_size)

    def now(self) -> datetime:
        return ns_to_datetime(self._market.visible_ns)

    def schedule(self, job: ScheduledJob) -> None:
        self._market.schedule(job)

    # --- fills ----------------------------------------------------------------------------------------

    def _execute(self, so: _SimOrder, bar: PriceBar, price: float) -> None:
        handle, inst, k = so.handle, so.handle.instrument, so.k
        qty = abs(handle.request.qty)
        self._exec_seq += 1
        fill = Fill(  # positional: noticeably cheaper than keywords for a Struct this wide
            ExecId(f"bt{self._exec_seq:010d}.01"),
            handle.order_ref,
            handle.request.strategy_id,
            inst.con_id,
            inst.key,
            Side.BUY if handle.request.qty > 0 else Side.SELL,
            qty,
            price,
            ns_to_datetime(bar.time_ns),
            None,  # perm_id
            self.commission(inst, qty, price),
            inst.currency,
            inst.multiplier,
        )
        before = self.ledger.position(fill.strategy_id, inst.con_id)
        after, _ = self.ledger.book(fill, margined=inst.is_margined)
        if before is not None and before.qty and (after.qty == 0 or (after.qty > 0) != (before.qty > 0)):
            self.closed_trades += 1
        self.fills.append(fill)
        self._restate(k, inst, bar.time_ns, fill.signed_qty)
        handle.filled_qty = qty
        handle.avg_fill_price = price
        handle.fills.append(fill)
        self._remove(so)
        handle.status = OrderState.FILLED
        listener = self._listeners.get(fill.strategy_id)
        if listener is not None and listener.wants_fills:
            listener.notify_fill(fill)
        self._notify_status(handle)

    def _restate(self, k: int, inst: Instrument, time_ns: int, signed_qty: float) -> None:
        """After a fill: the symbol's net quantity and offset, and the account's cash, recorded."""
        net = self._net_qty[k] + signed_qty
        self._net_qty[k] = net = 0.0 if abs(net) < FLAT_EPSILON else net
        if inst.is_margined:
            rate = self._factor[k] / inst.multiplier
            self._offset[k] = -sum(
                p.qty * p.avg_cost * inst.multiplier * rate
                for p in self.ledger.positions()
                if p.con_id == inst.con_id
            )
        offset = self._offset[k]
        self._cash_base = self.ledger.cash_in_base(self.rates)
        self.changes.append(StateChange(time_ns, k, net, offset, self._cash_base))

    def _finish(self, so: _SimOrder, state: OrderState, reason: str) -> None:
        self._remove(so)
        so.handle.status = state
        so.handle.reason = reason
        self._notify_status(so.handle)

    def _remove(self, so: _SimOrder) -> None:
        self._orders.pop(so.handle.order_ref, None)
        orders = self.open_by_k[so.k]
        if so in orders:
            orders.remove(so)

    def _client_order_id(self, seq: int) -> str:
        """A ULID from simulated time and a sequence: sortable, unique, and the same on every rerun.

        Built by hand (10 base-32 digits of milliseconds, then the sequence in hex, whose digits are
        Crockford digits too): python-ulid's encoder costs several µs per order, a visible share of a
        backtest that trades often.
        """
        return f"{time_digits(max(0, self._market.visible_ns // 1_000_000))}{seq:016X}"

    def _notify_status(self, handle: OrderHandle) -> None:
        listener = self._listeners.get(handle.request.strategy_id)
        if listener is None or not listener.wants_statuses:
            return
        r = handle.request
        listener.notify_status(
            OrderStatus(
                order_ref=handle.order_ref,
                strategy_id=r.strategy_id,
                symbol=r.symbol,
                state=handle.status,
                qty=r.qty,
                filled=handle.filled_qty,
                remaining=handle.remaining,
                avg_fill_price=handle.avg_fill_price,
                reason=handle.reason,
                at=self.now(),
            )
        )
