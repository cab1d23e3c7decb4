"""Commission models: IB-like tiers by default, none, or a flat rate per share or contract."""

from __future__ import annotations

from typing import Protocol

from mats.instruments import Instrument


class CommissionModel(Protocol):
    """The commission, in the instrument's currency, of trading ``qty`` (unsigned) at ``price``."""

    def __call__(self, instrument: Instrument, qty: float, price: float) -> float: ...


class NoCommission:
    def __call__(self, instrument: Instrument, qty: float, price: float) -> float:
        return 0.0


class PerUnitCommission:
    """``rate`` per share or contract, at least ``minimum``."""

    def __init__(self, rate: float, minimum: float = 0.0) -> None:
        if rate < 0 or minimum < 0:
            raise ValueError(f"commission rate and minimum must be >= 0, got {rate} and {minimum}")
        self.rate = rate
        self.minimum = minimum

    def __call__(self, instrument: Instrument, qty: float, price: float) -> float:
        return max(self.rate * qty, self.minimum)


class IBCommission:
    """IB's fixed pricing, roughly: stocks $0.005/share (min $1, max 1% of value), futures $0.85 per
    contract, FX 0.2 basis points of value (min 2 in the quote currency)."""

    def __init__(
        self,
        per_share: float = 0.005,
        share_minimum: float = 1.0,
        share_max_pct: float = 0.01,
        per_contract: float = 0.85,
        fx_rate: float = 0.00002,
        fx_minimum: float = 2.0,
    ) -> None:
        self.per_share = per_share
        self.share_minimum = share_minimum
        self.share_max_pct = share_max_pct
        self.per_contract = per_contract
        self.fx_rate = fx_rate
        self.fx_minimum = fx_minimum

    def __call__(self, instrument: Instrument, qty: float, price: float) -> float:
        value = qty * price * instrument.multiplier
        if instrument.sec_type == "FUT":
            return self.per_contract * qty
        if instrument.sec_type == "CASH":
            return max(self.fx_rate * value, self.fx_minimum)
        fee = max(self.per_share * qty, self.share_minimum)
        return min(fee, self.share_max_pct * value) if value > 0 else fee


def commission_model(commission: float | CommissionModel | None) -> CommissionModel:
    """``None`` → IB-like; ``0.0`` → none; a number → that much per share/contract; or a model."""
    if commission is None:
        return IBCommission()
    if isinstance(commission, int | float):
        return NoCommission() if commission == 0 else PerUnitCommission(float(commission))
    return commission
