"""IB-like commissions (fixed pricing), charged per order and split across its executions."""

from __future__ import annotations

from decimal import Decimal

from .contracts import ContractSpec

US_STOCK_PER_SHARE = 0.005
US_STOCK_MIN = 1.00
US_STOCK_MAX_RATE = 0.01
EU_STOCK_RATE = 0.0005
EU_STOCK_MIN = 1.25
FUTURE_PER_CONTRACT = 2.25
FX_RATE = 0.00002  # 0.2 basis points of the traded value
FX_MIN = 2.00


def order_commission(spec: ContractSpec, quantity: Decimal, notional: float) -> float:
    """Commission for an order that has filled `quantity` for `notional` (quote currency) so far.

    IB applies minimums per order, so an execution is charged the increase of this total: the first
    slice of a partial fill carries the minimum, later slices only what exceeds it.
    """
    qty = float(abs(quantity))
    if qty == 0:
        return 0.0
    if spec.sec_type == "FUT":
        return round(FUTURE_PER_CONTRACT * qty, 6)
    if spec.sec_type == "CASH":
        return round(max(FX_RATE * abs(notional), FX_MIN), 6)
    if spec.currency == "USD":
        raw = max(US_STOCK_PER_SHARE * qty, US_STOCK_MIN)
        return round(min(raw, US_STOCK_MAX_RATE * abs(notional)) if notional else raw, 6)
    return round(max(EU_STOCK_RATE * abs(notional), EU_STOCK_MIN), 6)


def commission_currency(spec: ContractSpec) -> str:
    """IB charges in the contract's currency (the quote currency for FX pairs)."""
    return spec.currency
