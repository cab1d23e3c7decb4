"""The account's books in money: IB's prices and FX rates applied to MATS's positions.

Prices come from the engine client's portfolio (what IB marks the account's positions at) and rates
from the FX cache; both are read when asked, so every figure is as fresh as IB's last update. The daily
loss guard, the equity tracker, the snapshots and the API all value the books here, the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mats.accounting import unrealized_pnl

if TYPE_CHECKING:
    from mats.actors.portfolio import PortfolioManager
    from mats.fx import FXCache
    from mats.ib.connection import ManagedClient


class AccountValuation:
    def __init__(
        self,
        engine_client: ManagedClient,
        portfolio: PortfolioManager,
        fx: FXCache | None,
        base_currency: str,
    ) -> None:
        self.engine_client = engine_client
        self.portfolio = portfolio
        self.fx = fx
        self.base_currency = base_currency

    def market_prices(self) -> dict[int, float]:
        """conId → the market price IB reports for the account's positions."""
        ib = self.engine_client.ib
        return {item.contract.conId: float(item.marketPrice) for item in ib.portfolio()} if ib else {}

    def to_base(self, currency: str) -> float:
        """The rate from ``currency`` to the base currency; LookupError when there is no fresh quote."""
        base = self.base_currency
        if currency == base:
            return 1.0
        if self.fx is None:
            raise LookupError(f"no FX rates: {currency} cannot be converted to {base}")
        return self.fx.rate(currency, base)

    def net_liquidation(self) -> float:
        """NetLiquidation in the base currency, from the engine client's account updates (0 before any)."""
        ib = self.engine_client.ib
        if ib is None:
            return 0.0
        for value in ib.accountValues():
            if value.tag == "NetLiquidation" and value.currency in (self.base_currency, "BASE"):
                return float(value.value)
        return 0.0

    def strategy_pnl(self) -> dict[str, float]:
        """Each strategy's realized + unrealized PnL less commissions, in the base currency, at IB's
        portfolio prices; a strategy holding a currency with no rate yet is left out of this sample."""
        prices = self.market_prices()
        out: dict[str, float] = {}
        unconvertible: set[str] = set()
        for position in self.portfolio.positions():
            price = prices.get(position.con_id, position.avg_cost)
            unrealized = unrealized_pnl(position, price)
            try:
                rate = self.to_base(position.currency)
            except LookupError:
                unconvertible.add(position.strategy_id)
                continue
            out[position.strategy_id] = (
                out.get(position.strategy_id, 0.0) + (position.realized_pnl + unrealized) * rate
            )
        for (strategy_id, currency), commission in self.portfolio.commissions_by_currency().items():
            try:
                out[strategy_id] = out.get(strategy_id, 0.0) - commission * self.to_base(currency)
            except LookupError:
                unconvertible.add(strategy_id)
        for strategy_id in unconvertible:
            out.pop(strategy_id, None)
        return out
