"""Positions, PnL and equity as a trader would check them by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mats.accounting import (
    DailyPnL,
    FixedRates,
    Ledger,
    apply_fill,
    flat_position,
    last_reset,
    unrealized_pnl,
)
from mats.model import ConId, ExecId, Fill, Side, StrategyId

AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def fill(
    qty: float,
    price: float,
    *,
    con_id: int = 1,
    symbol: str = "X",
    currency: str = "USD",
    multiplier: float = 1.0,
    commission: float = 0.0,
    strategy: str = "s1",
) -> Fill:
    return Fill(
        ExecId("e.01"),
        "mats:s1:x",
        StrategyId(strategy),
        ConId(con_id),
        symbol,
        Side.of(qty),
        abs(qty),
        price,
        AT,
        commission=commission,
        currency=currency,
        multiplier=multiplier,
    )


def test_adding_averages_the_cost_and_partial_close_realizes_on_the_closed_part() -> None:
    pos = flat_position("s1", 1, "X", "USD", 1.0)
    pos, _ = apply_fill(pos, 100, 10.0)
    pos, _ = apply_fill(pos, 100, 12.0)
    assert (pos.qty, pos.avg_cost) == (200, 11.0)
    pos, realized = apply_fill(pos, -50, 15.0)
    assert realized == pytest.approx(50 * 4.0)
    assert (pos.qty, pos.avg_cost, pos.realized_pnl) == (150, 11.0, pytest.approx(200.0))


def test_a_fill_through_zero_closes_the_position_and_opens_the_rest_at_the_fill_price() -> None:
    pos, _ = apply_fill(flat_position("s1", 1, "X", "USD", 1.0), 10, 100.0)
    pos, realized = apply_fill(pos, -25, 90.0)
    assert realized == pytest.approx(-100.0)
    assert (pos.qty, pos.avg_cost) == (-15, 90.0)
    pos, realized = apply_fill(pos, 15, 80.0)  # short covered lower: a gain
    assert realized == pytest.approx(150.0)
    assert (pos.qty, pos.avg_cost, pos.realized_pnl) == (0.0, 0.0, pytest.approx(50.0))


def test_es_future_multiplier_50_moves_cash_by_pnl_only() -> None:
    ledger = Ledger("USD", cash=100_000.0)
    ledger.book(fill(2, 5000.0, con_id=7, symbol="ESZ6", multiplier=50.0, commission=1.7), margined=True)
    assert ledger.cash["USD"] == pytest.approx(100_000.0 - 1.7)  # no notional changes hands
    prices = {ConId(7): 5010.0}
    rates = FixedRates()
    assert ledger.equity(prices, rates) == pytest.approx(100_000.0 - 1.7 + 2 * 10 * 50)
    pos, realized = ledger.book(fill(-1, 5020.0, con_id=7, symbol="ESZ6", multiplier=50.0), margined=True)
    assert realized == pytest.approx(1 * 20 * 50)
    assert pos.qty == 1 and pos.avg_cost == 5000.0
    assert unrealized_pnl(pos, 4990.0) == pytest.approx(-10 * 50)
    assert ledger.strategy_pnl("s1", {ConId(7): 4990.0}, rates) == pytest.approx(1000 - 500 - 1.7)


def test_fx_pair_pnl_is_in_the_quote_currency() -> None:
    ledger = Ledger("USD", cash=50_000.0)
    ledger.book(fill(100_000, 1.1000, con_id=12087792, symbol="EUR.USD"))
    _, realized = ledger.book(fill(-100_000, 1.1050, con_id=12087792, symbol="EUR.USD"))
    assert realized == pytest.approx(500.0)
    assert ledger.cash["USD"] == pytest.approx(50_500.0)
    assert ledger.equity({}, FixedRates()) == pytest.approx(50_500.0)


def test_eur_stock_in_a_usd_account_is_valued_through_the_rate() -> None:
    ledger = Ledger("USD", cash=100_000.0)
    ledger.book(fill(100, 200.0, con_id=14, symbol="SAP", currency="EUR", commission=3.0))
    assert ledger.cash["EUR"] == pytest.approx(-20_003.0)
    rates = FixedRates({"EURUSD": 1.10})
    # cash 100,000 USD − 20,003 EUR·1.10 + 100 · 210 EUR · 1.10
    assert ledger.equity({ConId(14): 210.0}, rates) == pytest.approx(100_000 - 22_003.3 + 23_100)
    assert ledger.strategy_pnl("s1", {ConId(14): 210.0}, rates) == pytest.approx((1000 - 3) * 1.10)


def test_positions_are_kept_per_strategy_on_the_same_contract() -> None:
    ledger = Ledger("USD", cash=0.0)
    ledger.book(fill(10, 100.0, strategy="a"))
    ledger.book(fill(-4, 101.0, strategy="b"))
    a, b = ledger.position("a", 1), ledger.position("b", 1)
    assert a is not None and b is not None and (a.qty, b.qty) == (10, -4)


def test_missing_fx_rate_names_the_pair() -> None:
    with pytest.raises(LookupError, match="no FX rate from EUR to JPY"):
        FixedRates({"EURUSD": 1.1}).rate("EUR", "JPY")
    assert FixedRates({"EURUSD": 1.25}).rate("USD", "EUR") == pytest.approx(0.8)


def test_daily_pnl_resets_at_five_pm_new_york() -> None:
    daily = DailyPnL()  # 17:00 America/New_York = 22:00 UTC in winter
    assert daily.update(datetime(2026, 1, 5, 15, 0, tzinfo=UTC), 1_000.0) == 0.0
    assert daily.update(datetime(2026, 1, 5, 21, 59, tzinfo=UTC), 1_250.0) == 250.0
    assert daily.update(datetime(2026, 1, 5, 22, 1, tzinfo=UTC), 1_300.0) == 50.0  # new day from 1,250
    assert daily.previous_day == 250.0
    assert daily.update(datetime(2026, 1, 6, 16, 0, tzinfo=UTC), 1_200.0) == -50.0


def test_last_reset_follows_daylight_saving() -> None:
    summer = last_reset(datetime(2026, 7, 1, 21, 30, tzinfo=UTC))
    assert summer.astimezone(UTC) == datetime(2026, 7, 1, 21, 0, tzinfo=UTC)  # 17:00 EDT
    with pytest.raises(ValueError, match="tz-aware"):
        last_reset(datetime(2026, 7, 1, 21, 30))
