"""``mats data …`` and ``mats backtest …`` as a trader types them (the parsers and handlers)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mats.backtest import run
from mats.backtest.cli import (
    add_backtest_arguments,
    add_data_arguments,
    parse_params,
    run_backtest,
    run_data,
)
from mats.backtest.data import synth_bars
from mats.backtest.storage import BACKTESTS, MARKET_DATA, load_result
from mats.config import Settings, load_settings
from mats.store import ArcticStore

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mats")
    commands = parser.add_subparsers(dest="command", required=True)
    add_backtest_arguments(commands.add_parser("backtest"))
    add_data_arguments(commands.add_parser("data"))
    return parser.parse_args(argv)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, environ={}, overrides={"data_dir": str(tmp_path / "data")})


def test_params_are_typed_like_toml_values() -> None:
    assert parse_params(["fast=10", "ratio=0.5", "long=true", "name=abc"]) == {
        "fast": 10,
        "ratio": 0.5,
        "long": True,
        "name": "abc",
    }
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_params(["fast"])


async def test_synth_then_backtest_prints_the_summary_saves_the_run_and_draws_the_png(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        await run_data(parse("data", "synth", "--symbol", "AAPL", "--bars", "5000", "--seed", "3"), settings)
        == 0
    )
    assert "market_data/AAPL_1min: 5,000 bars" in capsys.readouterr().out
    png = tmp_path / "equity.png"
    args = parse(
        "backtest", "strategies.sma_cross:SmaCross", "--symbol", "AAPL", "--param", "fast=5",
        "--param", "slow=30", "--png", str(png), "--run-id", "cli_run",
    )  # fmt: skip
    assert await run_backtest(args, settings) == 0
    out = capsys.readouterr().out
    expected = run(
        "strategies.sma_cross:SmaCross", {"AAPL": synth_bars(5_000, seed=3)}, params={"fast": 5, "slow": 30}
    )
    assert f"{expected.stats['final_equity']:,.2f}" in out
    assert f"{expected.stats['trades']:,}" in out and "max drawdown" in out and "win rate" in out
    assert "backtests/cli_run_equity" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    async with ArcticStore(settings.resolved_arctic_uri) as store:
        equity, fills, meta = await load_result(store, "cli_run")
    assert meta["stats"]["final_equity"] == expected.stats["final_equity"]
    assert meta["params"]["strategies"][0]["params"] == {"fast": 5, "slow": 30, "qty": 10}
    assert len(fills) == len(expected.fills) and len(equity) == 5_000


async def test_a_bad_csv_is_refused_by_line_and_nothing_is_stored(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "bars.csv"
    csv.write_text(
        "time,open,high,low,close\n2024-03-01T14:30:00Z,10,11,9,10\n2024-03-01T14:31:00Z,10,11,9,\n"
    )
    assert await run_data(parse("data", "import", str(csv), "--symbol", "XYZ"), settings) == 1
    assert "bars.csv line 3: close is nan, not a number" in capsys.readouterr().err
    async with ArcticStore(settings.resolved_arctic_uri) as store:
        assert "XYZ_1min" not in await store.list_symbols(MARKET_DATA, refresh=True)


async def test_import_then_backtest_an_imported_csv(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = synth_bars(2_000, seed=6)
    csv = tmp_path / "spy.csv"
    bars.to_csv(csv, index_label="time", date_format="%Y-%m-%dT%H:%M:%SZ")
    assert await run_data(parse("data", "import", str(csv), "--symbol", "SPY"), settings) == 0
    assert "market_data/SPY_1min: 2,000 bars" in capsys.readouterr().out
    args = parse(
        "backtest", "strategies.sma_cross:SmaCross", "--symbol", "SPY", "--commission", "0", "--no-save"
    )
    assert await run_backtest(args, settings) == 0
    expected = run("strategies.sma_cross:SmaCross", {"SPY": bars}, commission=0.0)
    assert f"{expected.stats['final_equity']:,.2f}" in capsys.readouterr().out


async def test_a_missing_symbol_is_one_line_naming_what_the_store_has(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_data(parse("data", "synth", "--symbol", "MSFT", "--bars", "100"), settings)
    code = await run_backtest(
        parse("backtest", "strategies.sma_cross:SmaCross", "--symbol", "AAPL"), settings
    )
    assert code == 1
    assert "market_data has no symbol 'AAPL_1min'" in capsys.readouterr().err


async def test_a_sweep_from_the_cli_prints_the_best_runs_and_stores_the_table(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv = tmp_path / "sweep.csv"
    args = parse(
        "backtest", "strategies.sma_cross:SmaCross", "--synth", "3000", "--seed", "4", "--sweep", "fast=5,10",
        "--sweep", "slow=40,80", "--workers", "2", "--threads", "--run-id", "grid", "--out", str(out_csv),
    )  # fmt: skip
    assert await run_backtest(args, settings) == 0
    out = capsys.readouterr().out
    assert "sweep: 4 runs" in out and "backtests/grid_sweep" in out
    rows = out_csv.read_text().splitlines()
    assert rows[0].startswith("fast,slow,final_equity") and len(rows) == 5
    async with ArcticStore(settings.resolved_arctic_uri) as store:
        stored = await store.read(BACKTESTS, "grid_sweep")
    alone = run(
        "strategies.sma_cross:SmaCross", {"SYM": synth_bars(3_000, seed=4)}, params={"fast": 10, "slow": 40}
    )
    assert stored.loc[2, "final_equity"] == alone.stats["final_equity"]


async def test_a_book_from_the_settings_file_runs_on_its_own_instruments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "book.toml"
    config.write_text(
        f"""
data_dir = "{tmp_path / "data"}"

[[strategies]]
strategy_id = "sma_aapl"
cls = "strategies.sma_cross:SmaCross"
symbols = ["AAPL"]
target_weight = 0.5

[[strategies]]
strategy_id = "sma_es"
cls = "strategies.sma_cross:SmaCross"
symbols = [{{ symbol = "ES", sec_type = "FUT", exchange = "CME", expiry = "202612" }}]
params = {{ qty = 1 }}
target_weight = 0.5
"""
    )
    settings = load_settings(config, environ={})
    args = parse("backtest", "--book", "--synth", "3000", "--commission", "0", "--run-id", "book_run")
    assert await run_backtest(args, settings) == 0
    out = capsys.readouterr().out
    assert "sma_aapl, sma_es on AAPL, ESZ6" in out
    async with ArcticStore(settings.resolved_arctic_uri) as store:
        _, fills, meta = await load_result(store, "book_run")
    assert set(fills["symbol"]) == {"AAPL", "ESZ6"}
    assert set(fills.loc[fills["strategy_id"] == "sma_es", "qty"]) == {1.0}
    assert [s["strategy_id"] for s in meta["params"]["strategies"]] == ["sma_aapl", "sma_es"]
