"""Results a trader reads: the statistics, stored runs with their parameters, the equity PNG, progress."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mats.backtest import run
from mats.backtest.data import synth_bars
from mats.backtest.plot import save_equity_png
from mats.backtest.storage import BACKTESTS, load_result, save_result
from mats.store import ArcticStore

from .scripted import Scripted, bars

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Daily flat bars: buy 10 at 100, sell at 115 (+150); buy at 110, sell at 95 (−150).
CLOSES = [100, 100, 110, 120, 115, 115, 110, 100, 95, 95]
SCRIPT = {
    0: lambda s, bar: s.place_order("AAPL", 10),
    3: lambda s, bar: s.place_order("AAPL", -10),
    5: lambda s, bar: s.place_order("AAPL", 10),
    7: lambda s, bar: s.place_order("AAPL", -10),
}


def two_trades(commission: float) -> object:
    data = bars([(float(c),) * 4 for c in CLOSES], start="2026-03-02", freq="1D")
    return run(Scripted, {"AAPL": data}, params={"script": SCRIPT}, commission=commission)


def test_stats_of_a_winning_and_a_losing_round_trip_with_commissions() -> None:
    result = two_trades(commission=0.5)  # $0.50 a share: $5 a fill
    s = result.stats
    expected_equity = [100_000, 99_995, 100_095, 100_195, 100_140, 100_140, 100_135, 100_035, 99_980, 99_980]
    assert result.equity.tolist() == pytest.approx(expected_equity)
    assert s["final_equity"] == pytest.approx(99_980.0)
    assert s["total_return"] == pytest.approx(-0.0002)
    assert s["trades"] == 2 and s["fills"] == 4
    assert s["win_rate"] == 0.5
    assert result.trades["pnl"].tolist() == pytest.approx([140.0, -160.0])  # net of both fills' commissions
    assert result.trades[["entry_price", "exit_price"]].to_numpy().tolist() == [[100.0, 115.0], [110.0, 95.0]]
    assert s["commissions"] == pytest.approx(20.0)
    assert s["max_drawdown"] == pytest.approx(215 / 100_195)
    assert s["max_drawdown_peak"] == pd.Timestamp("2026-03-05", tz="UTC")
    assert s["max_drawdown_trough"] == pd.Timestamp("2026-03-10", tz="UTC")
    assert s["max_drawdown_recovery"] is None
    assert s["exposure"] == pytest.approx(0.5)  # held after bars 1, 2, 3, 6 and 7 of 10
    assert s["turnover"] == pytest.approx(10 * (100 + 115 + 110 + 95) / np.mean(expected_equity))
    returns = np.diff(np.r_[100_000.0, expected_equity]) / np.r_[100_000.0, expected_equity][:-1]
    per_year = 365.25  # daily bars round the clock
    assert s["sharpe"] == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(per_year))
    downside = math.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))
    assert s["sortino"] == pytest.approx(returns.mean() / downside * math.sqrt(per_year))
    assert s["volatility"] == pytest.approx(returns.std(ddof=1) * math.sqrt(per_year))
    years = 9 / 365.25
    assert s["cagr"] == pytest.approx((99_980 / 100_000) ** (1 / years) - 1)


def test_a_drawdown_that_recovers_reports_when() -> None:
    closes = [100, 100, 90, 95, 101, 101]
    data = bars([(float(c),) * 4 for c in closes], start="2026-03-02", freq="1D")
    result = run(
        Scripted,
        {"AAPL": data},
        params={"script": {0: lambda s, b: s.place_order("AAPL", 100)}},
        commission=0.0,
    )
    assert result.stats["max_drawdown"] == pytest.approx(1_000 / 100_000)
    assert result.stats["max_drawdown_recovery"] == pd.Timestamp("2026-03-06", tz="UTC")


async def test_a_run_is_stored_with_its_params_and_stats_and_reads_back(store: ArcticStore) -> None:
    result = run("strategies.sma_cross:SmaCross", synth_bars(3_000, seed=4), params={"fast": 5, "slow": 30})
    run_id = await save_result(store, result)
    equity, fills, meta = await load_result(store, run_id)
    assert equity.to_numpy() == pytest.approx(result.equity.to_numpy(), rel=0, abs=0)
    pd.testing.assert_frame_equal(fills, result.fills, check_index_type=False)
    assert meta["run_id"] == run_id
    assert meta["stats"]["trades"] == result.stats["trades"] > 10
    assert meta["stats"]["final_equity"] == result.stats["final_equity"]
    assert meta["stats"]["start"] == "2024-01-02T14:30:00+00:00"
    (strategy,) = meta["params"]["strategies"]
    assert strategy["cls"] == "strategies.sma_cross:SmaCross"
    assert strategy["params"] == {"fast": 5, "slow": 30, "qty": 10}  # defaults filled in
    assert meta["params"]["commission"] == "ib"
    assert {f"{run_id}_equity", f"{run_id}_fills"} <= set(await store.list_symbols(BACKTESTS, refresh=True))


async def test_a_run_without_fills_is_stored_too(store: ArcticStore) -> None:
    result = run("strategies.sma_cross:SmaCross", synth_bars(20), params={"fast": 5, "slow": 30})
    assert result.fills.empty
    _, fills, meta = await load_result(store, await save_result(store, result, "no_trades"))
    assert fills.empty and meta["stats"]["trades"] == 0


def test_the_equity_png_is_a_picture_of_the_curve(tmp_path: Path) -> None:
    result = run("strategies.sma_cross:SmaCross", synth_bars(2_000, seed=9), commission=0.0)
    path = save_equity_png(result, tmp_path / "equity.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 600) and len(data) > 20_000


def test_progress_is_reported_every_n_bars_up_to_the_total() -> None:
    calls: list[tuple[int, int]] = []
    result = run(
        "strategies.sma_cross:SmaCross",
        synth_bars(5_500),
        progress=lambda done, total: calls.append((done, total)),
        progress_every=1_000,
        commission=0.0,
    )
    assert calls == [
        (1_000, 5_500),
        (2_000, 5_500),
        (3_000, 5_500),
        (4_000, 5_500),
        (5_000, 5_500),
        (5_500, 5_500),
    ]
    assert result.fills.equals(run("strategies.sma_cross:SmaCross", synth_bars(5_500), commission=0.0).fills)


async def test_arun_reads_stored_bars_on_the_running_loop(store: ArcticStore) -> None:
    from mats.backtest import arun
    from mats.backtest.storage import write_bars

    await write_bars(store, "IBM_1min", synth_bars(2_000, seed=21))
    result = await arun("strategies.sma_cross:SmaCross", "IBM_1min", store=store, commission=0.0)
    alone = run("strategies.sma_cross:SmaCross", {"IBM": synth_bars(2_000, seed=21)}, commission=0.0)
    assert result.stats["final_equity"] == alone.stats["final_equity"]
    assert set(result.fills["symbol"]) == {"IBM"} and result.meta["data"] == ["IBM_1min"]


def test_a_fill_through_zero_closes_one_trade_and_opens_the_next() -> None:
    closes = [100, 100, 104, 104, 101, 101]
    script = {
        0: lambda s, bar: s.place_order("AAPL", 10),  # long 10 at 100
        2: lambda s, bar: s.place_order("AAPL", -30),  # sell 30 at 104: +40 on the long, short 20
        4: lambda s, bar: s.place_order("AAPL", 20),  # cover 20 at 101: +60 on the short
    }
    data = bars([(float(c),) * 4 for c in closes], start="2026-03-02", freq="1D")
    result = run(Scripted, {"AAPL": data}, params={"script": script}, commission=0.0)
    trades = result.trades
    assert trades[["direction", "qty", "entry_price", "exit_price"]].to_numpy().tolist() == [
        ["LONG", 10.0, 100.0, 104.0],
        ["SHORT", 20.0, 104.0, 101.0],
    ]
    assert trades["pnl"].tolist() == pytest.approx([40.0, 60.0])
    assert result.stats["trades"] == len(trades) == 2  # the broker's count and the round trips agree
    assert result.stats["final_equity"] == pytest.approx(100_100.0)
