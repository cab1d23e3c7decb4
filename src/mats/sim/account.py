"""The one simulated account: positions, cash per currency, PnL, and the values TWS reports.

Pure bookkeeping: no I/O, no clock. Margin figures are a flat approximation (documented in
docs/simulator.md), enough for clients that read NetLiquidation, cash and buying power.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from .contracts import ContractSpec

INITIAL_MARGIN_RATE = {"STK": 0.25, "FUT": 0.06, "CASH": 0.03}
MAINT_OF_INITIAL = 0.8


@dataclass(slots=True)
class Holding:
    """A position in one contract; avg_price is per unit of price, avg cost is avg_price × multiplier."""

    spec: ContractSpec
    qty: Decimal = Decimal(0)
    avg_price: float = 0.0
    realized: float = 0.0

    @property
    def avg_cost(self) -> float:
        return self.avg_price * self.spec.multiplier_value


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    spec: ContractSpec
    qty: Decimal
    market_price: float
    market_value: float
    avg_cost: float
    unrealized: float
    realized: float


@dataclass(slots=True)
class Account:
    """Cash and holdings of one account; prices come from `mark` and FX rates from `fx_rate`."""

    account_id: str
    base_currency: str
    mark: Callable[[int], float]
    fx_rate: Callable[[str], float]
    cash: dict[str, float] = field(default_factory=dict)
    holdings: dict[int, Holding] = field(default_factory=dict)
    commissions: float = 0.0

    def apply_fill(
        self, spec: ContractSpec, signed_qty: Decimal, price: float, commission: float
    ) -> float | None:
        """Book one execution; returns the realized PnL net of commission when it closed something."""
        holding = self.holdings.setdefault(spec.con_id, Holding(spec))
        mult = spec.multiplier_value
        realized: float | None = None
        before = holding.qty
        after = before + signed_qty
        if before == 0 or (before > 0) == (signed_qty > 0):
            total = float(abs(before)) * holding.avg_price + float(abs(signed_qty)) * price
            holding.avg_price = total / float(abs(after)) if after else 0.0
        else:
            closed = min(abs(before), abs(signed_qty))
            direction = 1.0 if before > 0 else -1.0
            realized = (price - holding.avg_price) * float(closed) * mult * direction
            holding.realized += realized
            if after == 0:
                holding.avg_price = 0.0
            elif (after > 0) != (before > 0):
                holding.avg_price = price
        holding.qty = after
        self._move_cash(spec, signed_qty, price, realized)
        self.cash[spec.currency] = self.cash.get(spec.currency, 0.0) - commission
        self.commissions += commission * self.fx_rate(spec.currency)
        return None if realized is None else realized - commission

    def _move_cash(
        self, spec: ContractSpec, signed_qty: Decimal, price: float, realized: float | None
    ) -> None:
        qty = float(signed_qty)
        if spec.sec_type == "FUT":  # futures settle their PnL, not their notional
            if realized is not None:
                self.cash[spec.currency] = self.cash.get(spec.currency, 0.0) + realized
            return
        if spec.sec_type == "CASH":
            self.cash[spec.symbol] = self.cash.get(spec.symbol, 0.0) + qty
        self.cash[spec.currency] = self.cash.get(spec.currency, 0.0) - qty * price * spec.multiplier_value

    def unrealized(self, holding: Holding) -> float:
        if holding.qty == 0:
            return 0.0
        price = self.mark(holding.spec.con_id)
        return (price - holding.avg_price) * float(holding.qty) * holding.spec.multiplier_value

    def market_value(self, holding: Holding) -> float:
        return self.mark(holding.spec.con_id) * float(holding.qty) * holding.spec.multiplier_value

    def portfolio(self) -> list[PortfolioRow]:
        return [
            PortfolioRow(
                h.spec,
                h.qty,
                self.mark(h.spec.con_id),
                self.market_value(h),
                h.avg_cost,
                self.unrealized(h),
                h.realized,
            )
            for h in self.holdings.values()
        ]

    def net_liquidation(self) -> float:
        """Cash in base currency, plus stock value, plus open futures PnL (FX sits in cash already)."""
        total = sum(amount * self.fx_rate(ccy) for ccy, amount in self.cash.items())
        for h in self.holdings.values():
            rate = self.fx_rate(h.spec.currency)
            if h.spec.sec_type == "STK":
                total += self.market_value(h) * rate
            elif h.spec.sec_type == "FUT":
                total += self.unrealized(h) * rate
        return total

    def pnl(self) -> tuple[float, float, float]:
        """(daily, unrealized, realized) in base currency; the simulated day starts flat."""
        unrealized = sum(self.unrealized(h) * self.fx_rate(h.spec.currency) for h in self.holdings.values())
        realized = sum(h.realized * self.fx_rate(h.spec.currency) for h in self.holdings.values())
        return unrealized + realized - self.commissions, unrealized, realized - self.commissions

    def pnl_single(self, con_id: int) -> tuple[Decimal, float, float, float, float]:
        """(position, daily, unrealized, realized, value) for one contract, in its currency."""
        h = self.holdings.get(con_id)
        if h is None:
            return Decimal(0), 0.0, 0.0, 0.0, 0.0
        unrealized = self.unrealized(h)
        return h.qty, unrealized + h.realized, unrealized, h.realized, self.market_value(h)

    def values(self) -> list[tuple[str, str, str]]:
        """(key, value, currency) rows as reqAccountUpdates reports them."""
        base = self.base_currency
        net_liq = self.net_liquidation()
        gross = sum(abs(self.market_value(h)) * self.fx_rate(h.spec.currency) for h in self.holdings.values())
        init = sum(
            abs(self.market_value(h))
            * self.fx_rate(h.spec.currency)
            * INITIAL_MARGIN_RATE.get(h.spec.sec_type, 0.25)
            for h in self.holdings.values()
        )
        maint = init * MAINT_OF_INITIAL
        cash_base = sum(amount * self.fx_rate(ccy) for ccy, amount in self.cash.items())
        daily, unrealized, realized = self.pnl()
        stock_value = sum(
            self.market_value(h) * self.fx_rate(h.spec.currency)
            for h in self.holdings.values()
            if h.spec.sec_type == "STK"
        )
        available = net_liq - init
        rows = [
            ("AccountCode", self.account_id, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("AccountReady", "true", ""),
            ("Currency", base, base),
            ("NetLiquidation", _money(net_liq), base),
            ("TotalCashValue", _money(cash_base), base),
            ("SettledCash", _money(cash_base), base),
            ("EquityWithLoanValue", _money(net_liq), base),
            ("GrossPositionValue", _money(gross), base),
            ("StockMarketValue", _money(stock_value), base),
            ("InitMarginReq", _money(init), base),
            ("MaintMarginReq", _money(maint), base),
            ("AvailableFunds", _money(available), base),
            ("ExcessLiquidity", _money(net_liq - maint), base),
            ("BuyingPower", _money(max(available, 0.0) * 4), base),
            ("Cushion", f"{(net_liq - maint) / net_liq if net_liq else 0:.6f}", ""),
            ("UnrealizedPnL", _money(unrealized), base),
            ("RealizedPnL", _money(realized), base),
            ("DailyPnL", _money(daily), base),
        ]
        for ccy, amount in sorted(self.cash.items()):
            rows += [
                ("CashBalance", _money(amount), ccy),
                ("TotalCashBalance", _money(amount), ccy),
                ("ExchangeRate", f"{self.fx_rate(ccy):.6f}", ccy),
            ]
        rows += [
            ("CashBalance", _money(cash_base), "BASE"),
            ("TotalCashBalance", _money(cash_base), "BASE"),
            ("NetLiquidationByCurrency", _money(net_liq), "BASE"),
            ("ExchangeRate", "1.00", "BASE"),
        ]
        return rows


def _money(value: float) -> str:
    return f"{value:.2f}"
