"""The in-process control API: what a test (or the demo) does to the market and reads back from it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from .clock import VirtualClock
from .codec import UNSET_DOUBLE
from .orders import CommissionReport, Execution, OrderTicket, OrderView

if TYPE_CHECKING:
    import pandas as pd

    from .bars import Bar
    from .faults import Faults
    from .market import Quote
    from .server import SimServer


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    symbol: str
    con_id: int
    qty: Decimal
    avg_cost: float
    realized_pnl: float


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution with its commission, as the simulator booked it."""

    execution: Execution
    commission: CommissionReport

    @property
    def symbol(self) -> str:
        return self.execution.contract.local_symbol


class Control:
    """Drive the simulator from Python: pin prices, type a TWS order by hand, read what was executed."""

    def __init__(self, server: SimServer) -> None:
        self._server = server

    @property
    def faults(self) -> Faults:
        """Restart, reset, farm flaps, dropped end markers, corrected executions… (see `faults.py`)."""
        return self._server.faults

    # ----------------------------------------------------------------- clock

    def now(self) -> dt.datetime:
        return self._server.clock.now()

    def _virtual(self) -> VirtualClock:
        clock = self._server.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("this simulator runs on a clock that cannot be steered")
        return clock

    def advance(self, seconds: float) -> int:
        """Move virtual time ahead, firing every fill, tick, bar and expiry due on the way."""
        return self._virtual().advance(seconds)

    def set_speed(self, speed: float) -> None:
        self._virtual().set_speed(speed)

    def pause(self) -> None:
        """Stop virtual time; only `advance` moves it."""
        self._virtual().pause()

    def resume(self) -> None:
        self._virtual().resume()

    # ----------------------------------------------------------- market data

    def load_bars(self, symbol: str, frame: pd.DataFrame) -> None:
        """Replay these bars as `symbol`'s prices from now on (earlier rows become its history)."""
        self._server.load_bars(symbol, frame)

    def quote(self, symbol: str) -> Quote:
        """The bid/ask/last a client subscribing now would see."""
        spec = self._server.contracts.by_symbol(symbol)
        return self._server.market.quote(spec)

    def bars(
        self, symbol: str, seconds: int, start: dt.datetime, end: dt.datetime | None = None
    ) -> list[Bar]:
        """Bars of `seconds` as reqHistoricalData would build them (TRADES)."""
        tape = self._server.market.tape(self._server.contracts.by_symbol(symbol).con_id)
        now = self._server.clock.now().timestamp()
        return tape.bars(start.timestamp(), now if end is None else end.timestamp(), seconds, now)

    # ---------------------------------------------------------------- market

    def price(self, symbol: str) -> float:
        return self._server.prices.price(self._server.contracts.by_symbol(symbol).con_id)

    def set_price(self, symbol: str, price: float) -> None:
        """Pin a contract's price; resting orders it crosses fill at once (after the fill latency)."""
        self._server.exchange.set_price(self._server.contracts.by_symbol(symbol).con_id, price)

    def step_prices(self) -> None:
        """Advance the seeded random walk by one step, as the price timer does."""
        self._server.exchange.step_prices()

    def set_fill_slices(self, slices: int) -> None:
        """Split each order into this many executions (partial fills)."""
        if slices < 1:
            raise ValueError(f"slices must be at least 1, got {slices}")
        self._server.exchange.fill_slices = slices

    def set_fill_latency(self, seconds: float) -> None:
        """Delay between acceptance and each fill slice."""
        if seconds < 0:
            raise ValueError(f"latency must not be negative, got {seconds}")
        self._server.exchange.fill_latency = seconds

    def reject_next_order(self, reason: str = "simulated risk check") -> None:
        """The next new order is rejected (201, then Inactive) with this reason."""
        self._server.exchange.reject_next(reason)

    def end_of_day(self) -> int:
        """Expire DAY orders as the close does; returns how many were cancelled."""
        return self._server.exchange.end_of_day()

    # ---------------------------------------------------------------- orders

    def place_manual_order(
        self,
        symbol: str,
        action: str,
        quantity: float,
        order_type: str = "MKT",
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str = "DAY",
    ) -> OrderView:
        """An order typed into TWS: no orderRef and no API owner; the master client and client 0 see it."""
        spec = self._server.contracts.by_symbol(symbol)
        ticket = OrderTicket(
            action=action,
            total_quantity=Decimal(str(quantity)),
            order_type=order_type,
            lmt_price=UNSET_DOUBLE if limit_price is None else limit_price,
            aux_price=UNSET_DOUBLE if stop_price is None else stop_price,
            tif=tif,
            account=self._server.account,
        )
        placed = self._server.exchange.place_manual(spec, ticket)
        return self.order(placed.perm_id)

    def order(self, perm_id: int) -> OrderView:
        for view in self._server.exchange.orders():
            if view.perm_id == perm_id:
                return view
        raise KeyError(f"no order with permId {perm_id}")

    def orders(self) -> list[OrderView]:
        return self._server.exchange.orders()

    def open_orders(self) -> list[OrderView]:
        return self._server.exchange.open_orders()

    def global_cancel(self) -> int:
        return self._server.exchange.global_cancel()

    # --------------------------------------------------------------- account

    def executions(self) -> list[Fill]:
        return [Fill(e, c) for e, c in self._server.exchange.executions()]

    def positions(self) -> dict[str, PositionSnapshot]:
        """Non-zero holdings by local symbol ("AAPL", "ESZ6", "EUR.USD")."""
        return {
            h.spec.local_symbol: PositionSnapshot(
                h.spec.local_symbol, h.spec.con_id, h.qty, h.avg_cost, h.realized
            )
            for h in self._server.exchange.account.holdings.values()
            if h.qty != 0
        }

    def cash(self) -> dict[str, float]:
        return dict(self._server.exchange.account.cash)

    def net_liquidation(self) -> float:
        return self._server.exchange.account.net_liquidation()

    def connected_client_ids(self) -> list[int]:
        return self._server.connected_client_ids()

    async def wait_disconnected(self, client_id: int) -> None:
        """Wait until the simulator has noticed that `client_id`'s socket is gone."""
        await self._server.wait_disconnected(client_id)
