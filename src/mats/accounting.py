"""Position, PnL and equity arithmetic shared by the live PortfolioManager and backtests.

Positions are kept per (strategy, conId) as :class:`mats.model.Position`, with the average cost per unit
of price (not multiplied) and realized PnL in the instrument's currency. Stocks and FX move cash by their
notional; futures are margined, so cash moves only by realized PnL and the open position is worth its
unrealized PnL. Everything converts to the base currency through a :class:`RatesProvider`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from mats.model import ConId, Fill, Position, StrategyId

FLAT_EPSILON = 1e-9  # a quantity this close to zero is flat (floating residue of partial closes)


class RatesProvider(Protocol):
    """How many units of ``ccy_to`` one unit of ``ccy_from`` buys."""

    def rate(self, ccy_from: str, ccy_to: str) -> float: ...


class FixedRates:
    """Constant rates, e.g. ``FixedRates({"EURUSD": 1.1})``; inverses and identity are implied."""

    def __init__(self, rates: Mapping[str, float] | None = None) -> None:
        self._rates: dict[tuple[str, str], float] = {}
        for pair, value in (rates or {}).items():
            code = pair.replace(".", "").replace("/", "").upper()
            if len(code) != 6 or not value > 0:
                raise ValueError(f"FX rate must be like 'EURUSD': positive number, got {pair!r}: {value!r}")
            self._rates[(code[:3], code[3:])] = float(value)

    def rate(self, ccy_from: str, ccy_to: str) -> float:
        if ccy_from == ccy_to:
            return 1.0
        direct = self._rates.get((ccy_from, ccy_to))
        if direct is not None:
            return direct
        inverse = self._rates.get((ccy_to, ccy_from))
        if inverse is not None:
            return 1.0 / inverse
        raise LookupError(f"no FX rate from {ccy_from} to {ccy_to}; known pairs: {sorted(self._rates)}")


def flat_position(strategy_id: str, con_id: int, symbol: str, currency: str, multiplier: float) -> Position:
    return Position(StrategyId(strategy_id), ConId(con_id), symbol, 0.0, 0.0, 0.0, currency, multiplier)


def apply_fill(position: Position, signed_qty: float, price: float) -> tuple[Position, float]:
    """The position after a fill, and the PnL the fill realized (instrument currency, multiplied).

    Adding to a position averages the cost; reducing realizes PnL on the closed part at the old
    average; a fill larger than the position closes it and opens the rest at the fill price.
    """
    qty, avg, mult = position.qty, position.avg_cost, position.multiplier
    new_qty = qty + signed_qty
    if abs(new_qty) < FLAT_EPSILON:
        new_qty = 0.0
    if qty == 0.0 or (qty > 0) == (signed_qty > 0):
        new_avg = (qty * avg + signed_qty * price) / new_qty if new_qty else 0.0
        realized = 0.0
    else:
        closed = min(abs(signed_qty), abs(qty)) * (1.0 if qty > 0 else -1.0)
        realized = closed * (price - avg) * mult
        if new_qty == 0.0:
            new_avg = 0.0
        elif (new_qty > 0) == (qty > 0):
            new_avg = avg  # a partial close keeps the cost of what is left
        else:
            new_avg = price  # flipped through zero: the new side opened at this fill
    updated = Position(
        position.strategy_id,
        position.con_id,
        position.symbol,
        new_qty,
        new_avg,
        position.realized_pnl + realized,
        position.currency,
        mult,
    )
    return updated, realized


def unrealized_pnl(position: Position, price: float) -> float:
    return (price - position.avg_cost) * position.qty * position.multiplier


def market_value(position: Position, price: float) -> float:
    return position.qty * price * position.multiplier


def open_value(position: Position, price: float, *, margined: bool) -> float:
    """What an open position adds to equity: its notional, or for futures only its unrealized PnL."""
    return unrealized_pnl(position, price) if margined else market_value(position, price)


class Ledger:
    """One account: cash per currency and attributed positions per (strategy, conId)."""

    def __init__(self, base_currency: str = "USD", cash: float | Mapping[str, float] = 0.0) -> None:
        self.base_currency = base_currency
        self.cash: dict[str, float] = (
            {base_currency: float(cash)} if isinstance(cash, int | float) else dict(cash)
        )
        self._positions: dict[tuple[StrategyId, ConId], Position] = {}
        self._margined: set[ConId] = set()
        self._commissions: dict[tuple[StrategyId, str], float] = {}

    def book(self, fill: Fill, *, margined: bool = False) -> tuple[Position, float]:
        """Apply one fill; returns the new position and the PnL it realized."""
        key = (fill.strategy_id, fill.con_id)
        before = self._positions.get(key) or flat_position(
            fill.strategy_id, fill.con_id, fill.symbol, fill.currency, fill.multiplier
        )
        after, realized = apply_fill(before, fill.signed_qty, fill.price)
        commission = fill.commission or 0.0
        flow = realized if margined else -fill.signed_qty * fill.price * fill.multiplier
        self.cash[fill.currency] = self.cash.get(fill.currency, 0.0) + flow - commission
        ckey = (fill.strategy_id, fill.currency)
        self._commissions[ckey] = self._commissions.get(ckey, 0.0) + commission
        if margined:
            self._margined.add(fill.con_id)
        self._positions[key] = after
        return after, realized

    def position(self, strategy_id: str, con_id: int) -> Position | None:
        return self._positions.get((StrategyId(strategy_id), ConId(con_id)))

    def positions(self, strategy_id: str | None = None) -> list[Position]:
        return [p for (sid, _), p in self._positions.items() if strategy_id is None or sid == strategy_id]

    def is_margined(self, con_id: int) -> bool:
        return con_id in self._margined

    def cash_in_base(self, rates: RatesProvider) -> float:
        if len(self.cash) == 1 and self.base_currency in self.cash:
            return self.cash[self.base_currency]
        total = 0.0
        for ccy, amount in self.cash.items():
            total += amount if ccy == self.base_currency else amount * rates.rate(ccy, self.base_currency)
        return total

    def equity(self, prices: Mapping[ConId, float], rates: RatesProvider) -> float:
        """Account equity in the base currency: cash plus every open position at ``prices``."""
        return self.cash_in_base(rates) + self._open_value(self._positions.values(), prices, rates)

    def strategy_pnl(self, strategy_id: str, prices: Mapping[ConId, float], rates: RatesProvider) -> float:
        """Realized + unrealized − commissions of one strategy, in the base currency."""
        base = self.base_currency
        total = 0.0
        for pos in self.positions(strategy_id):
            unreal = unrealized_pnl(pos, prices[pos.con_id]) if pos.qty else 0.0
            total += (pos.realized_pnl + unreal) * rates.rate(pos.currency, base)
        for (sid, ccy), commission in self._commissions.items():
            if sid == strategy_id:
                total -= commission * rates.rate(ccy, base)
        return total

    def commissions(self, rates: RatesProvider) -> float:
        base = self.base_currency
        return sum(c * rates.rate(ccy, base) for (_, ccy), c in self._commissions.items())

    def _open_value(
        self, positions: Iterable[Position], prices: Mapping[ConId, float], rates: RatesProvider
    ) -> float:
        total = 0.0
        for pos in positions:
            if pos.qty:
                value = open_value(pos, prices[pos.con_id], margined=pos.con_id in self._margined)
                total += value * rates.rate(pos.currency, self.base_currency)
        return total


def last_reset(at: datetime, reset: time = time(17), tz: str = "America/New_York") -> datetime:
    """The most recent daily reset at or before ``at`` (a tz-aware datetime), as a local datetime."""
    if at.tzinfo is None:
        raise ValueError(f"time must be tz-aware, got naive {at.isoformat()}")
    local = at.astimezone(ZoneInfo(tz))
    boundary = datetime.combine(local.date(), reset, tzinfo=local.tzinfo)
    if boundary > local:
        boundary = datetime.combine(local.date() - timedelta(days=1), reset, tzinfo=local.tzinfo)
    return boundary


class DailyPnL:
    """Equity change since the last daily reset (default 17:00 New York, the FX/futures day roll)."""

    def __init__(self, reset: time = time(17), tz: str = "America/New_York") -> None:
        self.reset = reset
        self.tz = tz
        self._boundary: datetime | None = None
        self._start_equity = 0.0
        self._last_equity: float | None = None
        self.previous_day: float | None = None  # the PnL of the day that ended at the last reset

    def resume(self, boundary: datetime, start_equity: float) -> None:
        """Carry on a day begun before a restart: its reset and the equity it started from."""
        self._boundary, self._start_equity = boundary, start_equity

    @property
    def day(self) -> tuple[datetime, float] | None:
        """(the reset this day began at, the equity it started from), once anything was recorded."""
        return None if self._boundary is None else (self._boundary, self._start_equity)

    def update(self, at: datetime, equity: float) -> float:
        """Record equity at ``at``; returns today's PnL."""
        boundary = last_reset(at, self.reset, self.tz)
        if self._boundary is None or boundary > self._boundary:
            if self._last_equity is not None:
                self.previous_day = self._last_equity - self._start_equity
                self._start_equity = self._last_equity
            else:
                self._start_equity = equity
            self._boundary = boundary
        self._last_equity = equity
        return equity - self._start_equity
