"""A book: a stock, a future and an FX pair sharing one account, from Python or a settings file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mats.backtest import run
from mats.backtest.data import synth_bars
from mats.config import load_settings

from .scripted import Scripted, bars

SCRIPTED = f"{Scripted.__module__}:Scripted"


def flat(*prices: float):
    return bars([(p,) * 4 for p in prices])


BOOK = [
    {
        "strategy_id": "aapl_long",
        "cls": SCRIPTED,
        "symbols": ["AAPL"],
        "target_weight": 0.5,
        "params": {"script": {0: lambda s, bar: s.place_order("AAPL", 10)}},
    },
    {
        "strategy_id": "es_long",
        "cls": SCRIPTED,
        "symbols": [{"symbol": "ES", "sec_type": "FUT", "exchange": "CME", "expiry": "202612"}],
        "target_weight": 0.3,
        "params": {"script": {0: lambda s, bar: s.place_order(s.symbols[0], 2)}},
    },
    {
        "strategy_id": "eur_long",
        "cls": SCRIPTED,
        "symbols": ["EUR.USD"],
        "equity": 10_000.0,
        "params": {"script": {0: lambda s, bar: s.place_order("EUR.USD", 20_000)}},
    },
]
DATA = {
    "AAPL": flat(100.0, 101.0, 103.0),  # long 10 from 101 → 103: +20
    "ESZ6": flat(5000.0, 5002.0, 5010.0),  # long 2 contracts × 50 from 5002 → 5010: +800
    "EUR.USD": flat(1.0800, 1.0810, 1.0850),  # long 20,000 EUR from 1.0810 → 1.0850: +80 USD
}


def test_stock_future_and_fx_share_one_account_with_ib_commissions() -> None:
    result = run(BOOK, DATA, cash=100_000.0, commission=None)
    fills = result.fills.set_index("strategy_id")
    assert fills.loc["aapl_long", ["symbol", "qty", "price", "commission"]].tolist() == [
        "AAPL",
        10,
        101.0,
        1.0,
    ]
    assert fills.loc["es_long", ["symbol", "qty", "price"]].tolist() == ["ESZ6", 2, 5002.0]
    assert fills.loc["es_long", "commission"] == pytest.approx(1.70)  # $0.85 a contract
    assert fills.loc["eur_long", ["symbol", "qty", "price", "commission"]].tolist() == [
        "EUR.USD",
        20_000,
        1.081,
        2.0,
    ]
    commissions = 1.0 + 1.70 + 2.0
    final = 100_000.0 + 20.0 + 800.0 + 80.0 - commissions
    assert result.stats["final_equity"] == pytest.approx(final)
    assert result.stats["commissions"] == pytest.approx(commissions)
    # after the fills: AAPL notional moves cash, the future only its PnL (it is margined)
    assert result.equity.tolist() == pytest.approx([100_000.0, 100_000.0 - commissions, final])
    # the seed's equity resolution: weights of the whole account, or explicit equity plus own PnL
    strategies = result.strategies
    assert strategies["aapl_long"].get_equity() == pytest.approx(0.5 * final)
    assert strategies["es_long"].get_equity() == pytest.approx(0.3 * final)
    assert strategies["eur_long"].get_equity() == pytest.approx(10_000.0 + 80.0 - 2.0)
    assert strategies["es_long"].position("ESZ6").qty == 2
    assert strategies["es_long"].position("ESZ6").avg_cost == 5002.0
    assert strategies["aapl_long"].position("ESZ6").qty == 0  # positions are per strategy
    # turnover counts the future's full notional (× 50), in USD
    traded = 10 * 101.0 + 2 * 5002.0 * 50 + 20_000 * 1.081
    assert result.stats["turnover"] == pytest.approx(traded / result.equity.mean())


def test_a_losing_future_trade_is_counted_at_its_multiplier() -> None:
    book = [
        {
            "strategy_id": "es_round_trip",
            "cls": SCRIPTED,
            "symbols": ["ESZ6"],
            "params": {
                "script": {
                    0: lambda s, bar: s.place_order("ESZ6", 1),
                    2: lambda s, bar: s.place_order("ESZ6", -1),
                }
            },
        }
    ]
    result = run(book, {"ESZ6": flat(5000.0, 5000.0, 4990.0, 4980.0)}, commission=None)
    (trade,) = result.trades.itertuples()
    assert (trade.direction, trade.entry_price, trade.exit_price) == ("LONG", 5000.0, 4980.0)
    assert trade.pnl == pytest.approx(-20 * 50 - 2 * 0.85)
    assert result.stats["win_rate"] == 0.0 and result.stats["trades"] == 1


def test_a_book_declared_in_a_settings_file_runs_as_declared(tmp_path: Path) -> None:
    config = tmp_path / "mats.toml"
    config.write_text(
        """
[[strategies]]
strategy_id = "sma_aapl"
cls = "strategies.sma_cross:SmaCross"
symbols = ["AAPL"]
params = { fast = 10, slow = 50, qty = 10 }
target_weight = 0.5

[[strategies]]
strategy_id = "sma_es"
cls = "strategies.sma_cross:SmaCross"
symbols = [{ symbol = "ES", sec_type = "FUT", exchange = "CME", expiry = "202612" }]
params = { fast = 20, slow = 100, qty = 1 }
target_weight = 0.3

[[strategies]]
strategy_id = "sma_eur"
cls = "strategies.sma_cross:SmaCross"
symbols = ["EUR.USD"]
params = { fast = 10, slow = 50, qty = 25000 }
equity = 20000.0
"""
    )
    settings = load_settings(config, environ={})
    data = {
        "AAPL": synth_bars(3_000, seed=1),
        "ESZ6": synth_bars(3_000, seed=2, price=5000.0),
        "EUR.USD": synth_bars(3_000, seed=3, price=1.08, volatility=0.0005),
    }
    book = run(settings.strategies, data, commission=0.0)
    by_strategy = book.fills.groupby("strategy_id")["symbol"].unique().to_dict()
    assert {k: list(v) for k, v in by_strategy.items()} == {
        "sma_aapl": ["AAPL"],
        "sma_es": ["ESZ6"],
        "sma_eur": ["EUR.USD"],
    }
    assert set(book.fills.loc[book.fills["strategy_id"] == "sma_eur", "qty"]) == {25_000}
    # each strategy trades in the book exactly as it does alone, and the gains add up
    total = 0.0
    for spec in settings.strategies:
        key = {"sma_aapl": "AAPL", "sma_es": "ESZ6", "sma_eur": "EUR.USD"}[spec.strategy_id]
        alone = run([spec], {key: data[key]}, commission=0.0)
        mine = book.fills[book.fills["strategy_id"] == spec.strategy_id]
        assert mine[["side", "qty", "price"]].equals(alone.fills[["side", "qty", "price"]])
        total += alone.stats["final_equity"] - 100_000.0
    assert book.stats["final_equity"] - 100_000.0 == pytest.approx(total)
    assert book.meta["strategies"][1]["params"] == {"fast": 20, "slow": 100, "qty": 1}
