"""MeanReversion (limit orders that rest, move and fill at their limit) and Rebalancer (equal weights of
target_weight × equity, on a schedule) in backtests."""

from __future__ import annotations

import pandas as pd
import pytest

from mats.backtest import run
from mats.model import OrderState

from .scripted import bars
from .synthetic import random_walk_bars

MEAN_REVERSION = "strategies.mean_reversion:MeanReversion"
REBALANCER = "strategies.rebalancer:Rebalancer"


def test_mean_reversion_bids_under_a_stretched_close_and_sells_back_at_the_mean() -> None:
    data = bars(
        [
            (100.0, 100.5, 99.5, 100.0),
            (100.0, 101.5, 99.5, 101.0),
            (101.0, 101.0, 98.5, 99.0),
            (99.0, 100.5, 99.0, 100.0),
            (100.0, 100.5, 99.5, 100.0),  # warm: mean 100
            (99.5, 99.5, 97.8, 98.0),  # z -1.57: bid 2% under the close, 96.04
            (97.0, 97.2, 96.3, 96.5),  # still stretched, the bid is not reached: moved to 94.57
            (95.0, 95.5, 94.2, 95.2),  # opens above the bid, trades through it: bought at 94.57
            (96.0, 97.0, 95.8, 96.8),  # the offer follows the mean down: 97.30, not reached
            (97.0, 97.6, 96.9, 97.5),  # opens under the offer, trades through it: sold at 97.30
        ]
    )
    params = {"lookback": 5, "entry_z": 1.5, "discount": 0.02, "qty": 10}
    result = run(MEAN_REVERSION, data, symbol="AAPL", params=params, commission=0.0)

    fills = result.fills
    assert fills[["side", "qty", "price"]].values.tolist() == [["BUY", 10, 94.57], ["SELL", 10, 97.30]]
    assert list(fills.index) == [data.index[7], data.index[9]]
    strategy = result.strategies["mean_reversion"]
    bid, offer = strategy.bid, strategy.offer
    assert (bid.limit_price, bid.status, bid.avg_fill_price) == (94.57, OrderState.FILLED, 94.57)
    assert (offer.qty, offer.limit_price, offer.status) == (-10, 97.30, OrderState.FILLED)
    assert offer.request.tif.value == "GTC"
    position = strategy.position("AAPL")
    assert position.qty == 0 and position.realized_pnl == pytest.approx(10 * (97.30 - 94.57))
    assert result.stats["final_equity"] == pytest.approx(100_000 + 27.30)


def test_mean_reversion_cancels_its_bid_when_the_stretch_is_gone() -> None:
    data = bars(
        [
            (100.0, 100.5, 99.5, 100.0),
            (100.0, 101.5, 99.5, 101.0),
            (101.0, 101.0, 98.5, 99.0),
            (99.0, 100.5, 99.0, 100.0),
            (100.0, 100.5, 99.5, 100.0),
            (99.5, 99.5, 97.8, 98.0),  # bid at 96.04
            (98.5, 99.8, 98.4, 99.6),  # back near the mean: the bid is cancelled
            (99.0, 99.2, 95.0, 99.0),  # a dip that would have filled the bid
        ]
    )
    params = {"lookback": 5, "entry_z": 1.5, "discount": 0.02, "qty": 10}
    result = run(MEAN_REVERSION, data, symbol="AAPL", params=params, commission=0.0)
    assert result.fills.empty
    strategy = result.strategies["mean_reversion"]
    assert strategy.bid is None and not strategy.open_orders()


def test_mean_reversion_trades_a_random_walk_in_round_trips_of_qty() -> None:
    data = random_walk_bars(3_000)
    result = run(MEAN_REVERSION, data, symbol="AAPL", params={"qty": 25})
    fills = result.fills
    assert len(fills) >= 40
    assert set(fills["qty"]) == {25}
    sides = fills["side"].tolist()
    assert sides[::2] == ["BUY"] * len(sides[::2]) and sides[1::2] == ["SELL"] * len(sides[1::2])
    # a limit fills at its price, or at the open when the bar gaps through it: never worse than either
    bar_of = data.loc[fills.index]
    buys, sells = fills["side"] == "BUY", fills["side"] == "SELL"
    assert (fills.loc[buys, "price"] <= bar_of.loc[buys, "open"] + 1e-9).all()
    assert (fills.loc[sells, "price"] >= bar_of.loc[sells, "open"] - 1e-9).all()
    assert ((fills["price"] >= bar_of["low"] - 0.01) & (fills["price"] <= bar_of["high"] + 0.01)).all()


def two_stocks(n: int, *, freq: str = "min", start: str = "2024-01-02 14:30") -> dict[str, pd.DataFrame]:
    return {
        "AAPL": random_walk_bars(n, seed=1, freq=freq, start=start),
        "MSFT": random_walk_bars(n, seed=2, freq=freq, start=start, price=250.0),
    }


def holdings_after_each_rebalance(fills: pd.DataFrame) -> pd.DataFrame:
    signed = fills["qty"].where(fills["side"] == "BUY", -fills["qty"])
    traded = signed.groupby([fills.index, fills["symbol"]]).sum().unstack(fill_value=0)
    return traded.cumsum()


def test_rebalancer_holds_equal_weights_of_its_target_weight_within_one_share() -> None:
    data = two_stocks(600)
    book = [
        {
            "strategy_id": "rebal",
            "cls": REBALANCER,
            "symbols": ["AAPL", "MSFT"],
            "target_weight": 0.8,
            "params": {"every": "30min", "min_trade": 0.0},
        }
    ]
    result = run(book, data)
    fills = result.fills
    assert (fills.index.minute % 30 == 0).all()  # on the schedule, and only then
    for time, fill in fills.iterrows():  # market orders: the open of the bar after the decision
        assert fill["price"] == data[fill["symbol"]].loc[time, "open"]
    held = holdings_after_each_rebalance(fills)
    assert len(held) >= 15
    for time in held.index:
        row = held.loc[time]
        decided = time - pd.Timedelta("1min")  # on the closes and equity of the bar before
        share = 0.8 * result.equity.loc[decided] / 2
        for symbol in ("AAPL", "MSFT"):
            close = data[symbol].loc[decided, "close"]
            assert abs(row[symbol] - share / close) <= 1.0, (time, symbol)
    final = result.strategies["rebal"]
    assert final.position("AAPL").qty == held["AAPL"].iloc[-1]
    assert final.targets == {"AAPL": held["AAPL"].iloc[-1], "MSFT": held["MSFT"].iloc[-1]}


def test_rebalancer_skips_differences_below_min_trade() -> None:
    flat = pd.date_range("2024-01-02 14:30", periods=180, freq="min", tz="UTC")
    data = {
        symbol: pd.DataFrame({"open": p, "high": p, "low": p, "close": p, "volume": 1.0}, index=flat)
        for symbol, p in (("AAPL", 100.0), ("MSFT", 400.0))
    }
    result = run(REBALANCER, data, params={"every": "30min"}, cash=100_000.0)
    # one rebalance buys 500 AAPL and 125 MSFT; the commissions after it are far below 1% of a share
    assert result.fills[["symbol", "side", "qty"]].values.tolist() == [
        ["AAPL", "BUY", 500],
        ["MSFT", "BUY", 125],
    ]
    assert set(result.fills.index) == {flat[30]}


def test_rebalancer_runs_daily_at_a_local_time() -> None:
    data = two_stocks(3 * 288, freq="5min", start="2024-01-02 00:00")
    params = {"at": "10:00", "tz": "America/New_York", "min_trade": 0.0}
    result = run(REBALANCER, data, params=params)
    times = sorted(set(result.fills.index))
    assert [t.strftime("%Y-%m-%d %H:%M") for t in times] == [
        "2024-01-02 15:00",  # 10:00 in New York (EST)
        "2024-01-03 15:00",
        "2024-01-04 15:00",
    ]


def test_rebalancer_sizes_futures_in_contracts_with_their_multiplier() -> None:
    es = {"symbol": "ES", "sec_type": "FUT", "exchange": "CME", "currency": "USD", "expiry": "202612"}
    flat = pd.date_range("2024-01-02 14:30", periods=40, freq="min", tz="UTC")
    data = {
        "ESZ6": pd.DataFrame({"open": 5000.0, "high": 5000.0, "low": 5000.0, "close": 5000.0}, index=flat)
    }
    book = [
        {
            "strategy_id": "es_weight",
            "cls": REBALANCER,
            "symbols": [es],
            "target_weight": 0.5,
            "params": {"every": "30min"},
        }
    ]
    result = run(book, data, cash=1_000_000.0)
    # half of $1,000,000 in contracts worth 50 × 5,000 = $250,000 each
    assert result.fills[["symbol", "side", "qty", "price"]].values.tolist() == [["ESZ6", "BUY", 2, 5000.0]]
