"""Bars in: seeded synthetic walks, and CSV imports that store the whole file or nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mats.backtest.data import BarsInvalid, market_data_symbol, read_csv_bars, synth_bars, validate_bars
from mats.backtest.storage import MARKET_DATA, read_bars, write_bars
from mats.store import ArcticStore

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GOOD_CSV = """time,open,high,low,close,volume
2024-03-01T14:30:00Z,100.0,101.0,99.5,100.5,1200
2024-03-01T14:31:00Z,100.5,100.9,100.1,100.2,900
2024-03-01T09:32:00-05:00,100.2,100.4,99.8,99.9,1500
"""


def write_csv(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_synth_bars_are_seeded_utc_ohlcv_whose_high_and_low_contain_open_and_close() -> None:
    bars = synth_bars(5_000, seed=42)
    assert bars.equals(synth_bars(5_000, seed=42))
    assert not bars.equals(synth_bars(5_000, seed=43))
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert str(bars.index.tz) == "UTC" and bars.index.is_monotonic_increasing and bars.index.is_unique
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert bars["close"].iloc[0] == pytest.approx(100.0, rel=0.01)
    assert market_data_symbol("AAPL", "1min") == "AAPL_1min"


def test_a_csv_with_offsets_imports_as_utc_and_reads_back_bar_for_bar(tmp_path: Path) -> None:
    bars = read_csv_bars(write_csv(tmp_path, GOOD_CSV))
    assert bars.index.tolist() == [
        pd.Timestamp("2024-03-01 14:30", tz="UTC"),
        pd.Timestamp("2024-03-01 14:31", tz="UTC"),
        pd.Timestamp("2024-03-01 14:32", tz="UTC"),  # 09:32 New York (EST) is 14:32 UTC
    ]
    assert bars["close"].tolist() == [100.5, 100.2, 99.9]
    assert bars["volume"].tolist() == [1200.0, 900.0, 1500.0]


def test_naive_times_are_placed_in_the_zone_given_by_tz(tmp_path: Path) -> None:
    text = "date,open,high,low,close\n2024-07-01 09:30,10,11,9,10.5\n2024-07-01 09:31,10.5,11,10,10.8\n"
    bars = read_csv_bars(write_csv(tmp_path, text), tz="America/New_York")
    assert bars.index[0] == pd.Timestamp("2024-07-01 13:30", tz="UTC")  # EDT is UTC-4
    assert bars["volume"].tolist() == [0.0, 0.0]  # volume is optional


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD_CSV.replace("2024-03-01T14:31:00Z", "2024-03-01T14:29:00Z"),
            r"line 3: timestamp 2024-03-01 14:29:00\+00:00 comes before the previous row's",
        ),
        (
            GOOD_CSV.replace("2024-03-01T14:31:00Z", "2024-03-01T14:30:00Z"),
            r"line 3: timestamp 2024-03-01 14:30:00\+00:00 repeats the previous row's",
        ),
        (
            GOOD_CSV.replace("2024-03-01T14:31:00Z", "2024-03-01 14:31"),
            r"line 3: timestamp '2024-03-01 14:31' is naive",
        ),
        (GOOD_CSV.replace("100.9,100.1,100.2", "100.9,,100.2"), r"line 3: low is nan, not a number"),
        (GOOD_CSV.replace("100.9,100.1,100.2", "100.9,abc,100.2"), r"line 3: low is 'abc', not a number"),
        (GOOD_CSV.replace(",low,", ",lo,"), r"missing column\(s\) \['low'\]"),
        (GOOD_CSV.replace("time,", "when,"), r"missing a time column"),
        (
            GOOD_CSV.replace("2024-03-01T14:31:00Z", "2024-13-45T14:31:00Z"),
            r"line 3: cannot read '2024-13-45T14:31:00Z' as a timestamp",
        ),
        (GOOD_CSV.replace("100.5,100.9,100.1", "100.5,100.0,100.1"), r"line 3: open 100.5, high 100.0"),
    ],
    ids=[
        "unsorted",
        "duplicate",
        "naive",
        "empty-nan",
        "not-a-number",
        "no-low",
        "no-time",
        "bad-time",
        "high<open",
    ],
)
def test_a_bad_row_is_named_by_its_line_in_the_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BarsInvalid, match=message):
        read_csv_bars(write_csv(tmp_path, text))


def test_import_progress_reports_bytes_up_to_the_file_size(tmp_path: Path) -> None:
    rows = synth_bars(1_000, seed=2)
    path = tmp_path / "big.csv"
    rows.to_csv(path, index_label="time", date_format="%Y-%m-%dT%H:%M:%SZ")
    seen: list[tuple[int, int]] = []
    bars = read_csv_bars(path, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert np.allclose(bars["close"].to_numpy(), rows["close"].to_numpy())


async def test_a_failed_import_leaves_the_stored_bars_as_they_were(
    tmp_path: Path, store: ArcticStore
) -> None:
    name = market_data_symbol("AAPL", "1min")
    await write_bars(store, name, read_csv_bars(write_csv(tmp_path, GOOD_CSV)))
    bad = synth_bars(10, start="2024-03-02").copy()
    bad.iloc[7, bad.columns.get_loc("close")] = np.nan
    with pytest.raises(BarsInvalid, match="row 7: close is nan"):
        await write_bars(store, name, bad)
    kept = await read_bars(store, name)
    assert kept["close"].tolist() == [100.5, 100.2, 99.9]


async def test_append_adds_later_bars_and_refuses_overlapping_ones(store: ArcticStore) -> None:
    bars = synth_bars(100, seed=5)
    name = "SPY_1min"
    await write_bars(store, name, bars.iloc[:60])
    await write_bars(store, name, bars.iloc[60:], append=True)
    assert (await read_bars(store, name))["close"].tolist() == bars["close"].tolist()
    with pytest.raises(
        BarsInvalid, match=r"start at 2024-01-02 15:20:00\+00:00, not after .* nothing was written"
    ):
        await write_bars(store, name, bars.iloc[50:], append=True)
    assert len(await store.read(MARKET_DATA, name)) == 100


async def test_reading_a_missing_symbol_says_what_the_store_has(store: ArcticStore) -> None:
    await write_bars(store, "MSFT_1min", synth_bars(10))
    with pytest.raises(KeyError, match=r"no symbol 'AAPL_1min' .* it has MSFT_1min"):
        await read_bars(store, "AAPL_1min")


def test_frames_with_naive_index_are_refused_before_anything_is_written() -> None:
    with pytest.raises(BarsInvalid, match=r"row 0: timestamp .* is naive"):
        validate_bars(synth_bars(5).tz_localize(None))
