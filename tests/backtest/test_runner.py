"""The replay: books of strategies, time order, no look-ahead, async strategies, notebooks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pandas as pd
import pytest

from mats.accounting import FixedRates
from mats.backtest import arun, run
from mats.backtest.driver import StrategySuspended
from mats.backtest.storage import run_sync, write_bars
from mats.model import Bar, OrderState
from mats.store import ArcticStore
from mats.strategy import BaseStrategy

from .scripted import Scripted, bars
from .synthetic import random_walk_bars

FLAT = (100.0, 100.5, 99.5, 100.0)
SCRIPTED = f"{Scripted.__module__}:Scripted"


class Peeker(BaseStrategy):
    """Records what get_data shows at every bar."""

    def initialize_strategy(self) -> None:
        self.views: list[tuple[pd.Timestamp, pd.Timestamp, int]] = []

    def run_strategy(self, bar: Bar) -> None:
        history = self.get_data(bar.symbol)
        self.views.append((pd.Timestamp(bar.time), history.index[-1], len(history)))


def test_get_data_never_sees_past_the_current_bar() -> None:
    data = random_walk_bars(300)
    result = run(Peeker, data, commission=0.0)
    views = result.strategies["peeker"].views
    assert len(views) == 300
    assert all(now == last for now, last, _ in views)
    assert [n for *_, n in views] == list(range(1, 301))


def test_get_data_resamples_only_what_is_visible() -> None:
    class Hourly(BaseStrategy):
        def initialize_strategy(self) -> None:
            self.seen: list[pd.DataFrame] = []

        def run_strategy(self, bar: Bar) -> None:
            if bar.time.minute == 29:
                self.seen.append(self.get_data(bar.symbol, bar_size="1h"))

    result = run(Hourly, random_walk_bars(120, start="2026-03-02 14:00"), commission=0.0)
    first = result.strategies["hourly"].seen[0]
    assert len(first) == 1 and first.index[0] == pd.Timestamp("2026-03-02 14:00", tz="UTC")


class AsyncBuyer(BaseStrategy):
    """Places a market order and waits for it; bars arriving meanwhile queue up."""

    def initialize_strategy(self) -> None:
        self.log: list[tuple[str, float]] = []

    async def run_strategy(self, bar: Bar) -> None:
        self.log.append(("bar", bar.close))
        if len(self.log) == 1:
            handle = await self.place_order(bar.symbol, 5)
            assert handle.status is OrderState.SUBMITTED
            done = await handle.filled()
            self.log.append(("filled", done.avg_fill_price))


def test_async_strategy_awaiting_a_fill_resumes_at_the_fill_and_misses_no_bar() -> None:
    rows = [FLAT, (101.0, 102.0, 100.0, 101.5), (101.5, 103.0, 101.0, 102.0)]
    result = run(AsyncBuyer, bars(rows), commission=0.0)
    assert result.strategies["async_buyer"].log == [
        ("bar", 100.0),
        ("filled", 101.0),
        ("bar", 101.5),
        ("bar", 102.0),
    ]


def test_awaiting_something_a_backtest_cannot_provide_stops_loudly() -> None:
    class Sleeper(BaseStrategy):
        async def run_strategy(self, bar: Bar) -> None:
            await asyncio.sleep(0.01)

    with pytest.raises(StrategySuspended, match=r"sleeper.run_strategy used asyncio .*simulated time"):
        run(Sleeper, bars([FLAT, FLAT]), commission=0.0)

    class ForeignAwaitable:
        def __await__(self):
            yield "something only an event loop understands"

    class Waiter(BaseStrategy):
        async def run_strategy(self, bar: Bar) -> None:
            await ForeignAwaitable()

    with pytest.raises(StrategySuspended, match="may await only its order handles"):
        run(Waiter, bars([FLAT, FLAT]), commission=0.0)


def test_a_book_of_strategies_on_several_symbols_shares_one_account() -> None:
    a = bars([FLAT, (101.0, 101.0, 101.0, 101.0), (102.0, 102.0, 102.0, 103.0)])
    b = bars([(50.0, 50.0, 50.0, 50.0), (49.0, 49.0, 49.0, 48.0), (48.0, 48.0, 48.0, 47.0)])
    specs = [
        {
            "strategy_id": "long_a",
            "cls": SCRIPTED,
            "symbols": ["AAA"],
            "target_weight": 0.6,
            "params": {"script": {0: lambda s, bar: s.place_order("AAA", 10)}},
        },
        {
            "strategy_id": "short_b",
            "cls": SCRIPTED,
            "symbols": ["BBB"],
            "equity": 20_000.0,
            "params": {"script": {0: lambda s, bar: s.place_order("BBB", -100)}},
        },
    ]
    result = run(specs, {"AAA": a, "BBB": b}, cash=100_000.0, commission=0.0)
    assert list(result.fills["strategy_id"]) == ["long_a", "short_b"]
    assert list(result.fills["side"]) == ["BUY", "SELL"]
    # long 10 AAA from 101 → 103 (+20); short 100 BBB from 49 → 47 (+200)
    assert result.stats["final_equity"] == pytest.approx(100_220.0)
    assert result.equity.tolist() == pytest.approx([100_000.0, 100_100.0, 100_220.0])
    long_a, short_b = result.strategies["long_a"], result.strategies["short_b"]
    assert long_a.get_equity() == pytest.approx(0.6 * 100_220.0)
    assert short_b.get_equity() == pytest.approx(20_200.0)  # explicit equity plus its own PnL
    assert long_a.position("AAA").qty == 10 and long_a.position("BBB").qty == 0


def test_bars_of_several_symbols_arrive_in_time_order() -> None:
    seen: list[tuple[str, pd.Timestamp]] = []

    class Recorder(BaseStrategy):
        def run_strategy(self, bar: Bar) -> None:
            seen.append((bar.symbol, pd.Timestamp(bar.time)))

    early = bars([FLAT] * 3, start="2026-03-02 14:30", freq="2min")
    late = bars([FLAT] * 3, start="2026-03-02 14:31", freq="2min")
    run(Recorder, {"EARLY": early, "LATE": late}, commission=0.0)
    assert [s for s, _ in seen] == ["EARLY", "LATE"] * 3
    assert [t for _, t in seen] == sorted(t for _, t in seen)


def test_futures_pnl_uses_the_multiplier() -> None:
    es = bars(
        [(5000.0, 5000.0, 5000.0, 5000.0), (5000.0, 5001.0, 4999.0, 5000.0), (5004.0, 5005.0, 5003.0, 5004.0)]
    )
    script = {0: lambda s, bar: s.place_order("ESZ6", 2)}
    result = run(Scripted, {"ESZ6": es}, params={"script": script}, commission=None)
    assert result.fills["commission"].tolist() == [pytest.approx(1.7)]
    assert result.stats["final_equity"] == pytest.approx(100_000.0 + 2 * 4 * 50 - 1.7)


def test_a_eur_stock_is_valued_in_usd_through_the_rate() -> None:
    sap = bars([(200.0,) * 4, (200.0,) * 4, (210.0,) * 4])
    script = {0: lambda s, bar: s.place_order("SAP", 10)}
    result = run(
        Scripted, {"SAP": sap}, params={"script": script}, commission=0.0, rates=FixedRates({"EURUSD": 1.1})
    )
    assert result.stats["final_equity"] == pytest.approx(100_000.0 + 10 * 10 * 1.1)


def test_scheduled_jobs_fire_on_simulated_time() -> None:
    class Timer(BaseStrategy):
        def initialize_strategy(self) -> None:
            self.fired: list[pd.Timestamp] = []
            self.schedule(lambda: self.fired.append(pd.Timestamp(self.now())), every=timedelta(minutes=15))

        def run_strategy(self, bar: Bar) -> None:
            pass

    result = run(Timer, random_walk_bars(60, start="2026-03-02 14:00"), commission=0.0)
    fired = result.strategies["timer"].fired
    # every 15 min from the start: before the 14:15, 14:30 and 14:45 bars, seeing the bar before each
    assert [t.strftime("%H:%M") for t in fired] == ["14:14", "14:29", "14:44"]


def test_string_reference_and_stats_shape() -> None:
    result = run("strategies.sma_cross:SmaCross", random_walk_bars(2_000), params={"fast": 5, "slow": 20})
    assert {"final_equity", "total_return", "sharpe", "max_drawdown", "trades", "bars"} <= set(result.stats)
    assert result.stats["bars"] == 2_000
    assert list(result.fills.columns) == ["symbol", "side", "qty", "price", "commission", "strategy_id"]
    assert (result.fills["commission"] >= 1.0).all()  # the IB-like default
    assert result.equity.index.tz is not None


def test_unknown_params_are_refused_by_name() -> None:
    with pytest.raises(
        ValueError, match=r"unknown param\(s\) \['fsat'\] for SmaCross; it takes fast, qty, slow"
    ):
        run("strategies.sma_cross:SmaCross", random_walk_bars(10), params={"fsat": 5})


async def test_arun_works_inside_a_running_loop() -> None:
    result = await arun("strategies.sma_cross:SmaCross", random_walk_bars(1_000), commission=0.0)
    assert result.stats["bars"] == 1_000


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_data_can_be_a_market_data_symbol_in_arcticdb(tmp_path: object) -> None:
    uri = f"lmdb://{tmp_path}/arctic"

    async def store_bars() -> None:
        async with ArcticStore(uri) as store:
            await write_bars(store, "AAPL_1min", random_walk_bars(500))

    run_sync(store_bars)
    result = run("strategies.sma_cross:SmaCross", "AAPL_1min", arctic_uri=uri, commission=0.0)
    assert result.stats["bars"] == 500
    assert set(result.fills["symbol"]) == {"AAPL"}


def test_dip_buyer_buys_at_its_limits_and_sells_at_its_targets() -> None:
    result = run("strategies.dip_buyer:DipBuyer", random_walk_bars(3_000, seed=3), commission=0.0)
    fills = result.fills
    assert len(fills) >= 20
    sides = fills["side"].tolist()
    assert sides[: len(sides) // 2 * 2] == ["BUY", "SELL"] * (len(sides) // 2)
    buys, sells = fills[fills["side"] == "BUY"], fills[fills["side"] == "SELL"]
    for buy, sell in zip(buys["price"], sells["price"], strict=False):
        assert sell >= round(buy * 1.004, 2) - 1e-9  # the target, or better on a gap up
    on_tick = (fills["price"] * 100).round(6).mod(1).eq(0)
    assert on_tick.sum() >= len(fills) // 2  # limit fills are on the tick (a gap fills at the open)


def test_equity_curve_equals_cash_plus_position_at_every_close() -> None:
    data = random_walk_bars(5_000, seed=11)
    result = run("strategies.sma_cross:SmaCross", data, commission=None)
    signed = result.fills["qty"].where(result.fills["side"] == "BUY", -result.fills["qty"])
    flows = -(signed * result.fills["price"]) - result.fills["commission"]
    cash = 100_000.0 + flows.groupby(level=0).sum().reindex(data.index, fill_value=0.0).cumsum()
    held = signed.groupby(level=0).sum().reindex(data.index, fill_value=0.0).cumsum()
    expected = cash + held * data["close"]
    assert result.equity.to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-12)
    assert result.stats["commissions"] == pytest.approx(result.fills["commission"].sum())


def test_strategies_in_a_book_trade_as_they_would_alone() -> None:
    data = random_walk_bars(4_000, seed=5)
    ref = "strategies.sma_cross:SmaCross"
    book = [
        {"strategy_id": "fast", "cls": ref, "params": {"fast": 10, "slow": 50}, "target_weight": 0.5},
        {
            "strategy_id": "slow",
            "cls": ref,
            "params": {"fast": 20, "slow": 100, "qty": 5},
            "target_weight": 0.5,
        },
    ]
    together = run(book, data, commission=0.0)
    for spec in book:
        alone = run(ref, data, params=spec["params"], commission=0.0)
        mine = together.fills[together.fills["strategy_id"] == spec["strategy_id"]]
        assert mine[["side", "qty", "price"]].equals(alone.fills[["side", "qty", "price"]])
    gains = together.stats["final_equity"] - 100_000.0
    each = [
        run(ref, data, params=s["params"], commission=0.0).stats["final_equity"] - 100_000.0 for s in book
    ]
    assert gains == pytest.approx(sum(each))


def test_daily_job_at_a_new_york_time_fires_once_a_day_before_that_bar() -> None:
    class CloseOut(BaseStrategy):
        def initialize_strategy(self) -> None:
            self.fired: list[pd.Timestamp] = []
            self.schedule(self.close_out, at="15:55", tz="America/New_York")

        def close_out(self) -> None:
            self.fired.append(pd.Timestamp(self.now()))

        def run_strategy(self, bar: Bar) -> None:
            pass

    # two New York sessions of minute bars, 14:30–21:00 UTC (09:30–16:00 EST)
    days = [random_walk_bars(390, start=f"2026-03-0{d} 14:30", seed=d) for d in (2, 3)]
    result = run(CloseOut, pd.concat(days), commission=0.0)
    fired = result.strategies["close_out"].fired
    assert [t.strftime("%m-%d %H:%M") for t in fired] == ["03-02 20:54", "03-03 20:54"]
