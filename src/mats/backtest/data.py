"""Bars for backtests: seeded synthetic random walks, and CSV files checked row by row before import.

Everything is validated before anything is written, so an import either stores the whole file or
nothing: a bad row is reported by its line in the file (the header is line 1), with what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

OHLC = ("open", "high", "low", "close")
COLUMNS = (*OHLC, "volume")
TIME_COLUMNS = ("time", "timestamp", "datetime", "date")
_HAS_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
READ_CHUNK_ROWS = 200_000

Progress = Callable[[int, int], None]  # (done, total)


class BarsInvalid(ValueError):
    """Bars that cannot be used; the message names the file line or row and what was wrong."""


def market_data_symbol(symbol: str, bar_size: str = "1min") -> str:
    """The ``market_data`` symbol of an instrument's bars: ``AAPL`` + ``1min`` → ``AAPL_1min``."""
    if not symbol or "_" in bar_size or not bar_size:
        raise ValueError(f"need a symbol and a bar size without '_', got {symbol!r}, {bar_size!r}")
    return f"{symbol}_{bar_size}"


def instrument_of(market_data_name: str) -> str:
    """``AAPL_1min`` → ``AAPL``; ``EUR.USD_1min`` → ``EUR.USD``."""
    return market_data_name.rsplit("_", 1)[0]


def synth_bars(
    n: int,
    *,
    seed: int = 1,
    start: str | pd.Timestamp = "2024-01-02 14:30",
    freq: str = "1min",
    price: float = 100.0,
    volatility: float = 0.002,
) -> pd.DataFrame:
    """``n`` OHLCV bars of a seeded geometric random walk on a tz-aware UTC index.

    Each open is near the previous close and each high/low contains its open and close, so every
    order type fills the way it would on real bars. The same seed gives the same bars on every machine.
    """
    if n < 1:
        raise ValueError(f"need at least one bar, got {n}")
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0, volatility, n)))
    open_ = np.r_[price, close[:-1]] * np.exp(rng.normal(0.0, volatility / 4, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, volatility / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, volatility / 2, n)))
    volume = rng.integers(100, 10_000, n).astype(np.float64)
    first = pd.Timestamp(start)
    first = first.tz_localize("UTC") if first.tzinfo is None else first.tz_convert("UTC")
    index = pd.date_range(first, periods=n, freq=freq, name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index)


def validate_bars(frame: pd.DataFrame, *, where: str = "bars", first_line: int | None = None) -> pd.DataFrame:
    """OHLCV float columns on a sorted, unique, tz-aware UTC index, or :class:`BarsInvalid` naming the row.

    ``first_line``: the file line of the first row (2 for a CSV with a header), so messages say
    ``line 17``; without it they say ``row 15`` (0-based position).
    """

    def at(i: int) -> str:
        return f"{where} line {first_line + i}" if first_line is not None else f"{where} row {i}"

    lowered = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in OHLC if c not in lowered]
    if missing:
        raise BarsInvalid(f"{where}: missing column(s) {missing}; found {list(frame.columns)}")
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise BarsInvalid(f"{where}: needs a DatetimeIndex of bar times, got {type(index).__name__}")
    if index.tz is None:
        raise BarsInvalid(f"{at(0)}: timestamp {index[0]} is naive; bars need UTC times (tz_localize)")
    times = index.tz_convert("UTC").as_unit("ns")
    out = pd.DataFrame(index=times.rename("time"))
    for c in COLUMNS:
        if c not in lowered:
            out[c] = 0.0
            continue
        values = pd.to_numeric(frame[lowered[c]], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            i = int(bad[0])
            raw = frame[lowered[c]].iloc[i]
            shown = repr(raw) if isinstance(raw, str) else str(raw)
            raise BarsInvalid(f"{at(i)}: {c} is {shown}, not a number ({len(bad)} such row(s) in {c})")
        out[c] = values
    _check_order(times, at)
    _check_prices(out, at)
    return out


def _check_order(times: pd.DatetimeIndex, at: Callable[[int], str]) -> None:
    ns = times.to_numpy(dtype="datetime64[ns]").view(np.int64)
    steps = np.diff(ns)
    back = np.flatnonzero(steps < 0)
    if len(back):
        i = int(back[0]) + 1
        raise BarsInvalid(f"{at(i)}: timestamp {times[i]} comes before the previous row's {times[i - 1]}")
    dup = np.flatnonzero(steps == 0)
    if len(dup):
        i = int(dup[0]) + 1
        raise BarsInvalid(f"{at(i)}: timestamp {times[i]} repeats the previous row's")


def _check_prices(out: pd.DataFrame, at: Callable[[int], str]) -> None:
    o, h, low, c = (out[k].to_numpy() for k in OHLC)
    bad = np.flatnonzero((h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (low <= 0))
    if len(bad):
        i = int(bad[0])
        raise BarsInvalid(
            f"{at(i)}: open {o[i]}, high {h[i]}, low {low[i]}, close {c[i]} is not a bar "
            "(high must be >= open and close, low <= them and > 0)"
        )


def read_csv_bars(
    path: str | Path, *, tz: str | None = None, progress: Progress | None = None
) -> pd.DataFrame:
    """A CSV of bars (a time column plus open, high, low, close[, volume]) validated row by row.

    Times must carry their UTC offset (``2024-01-02T14:30:00Z``) unless ``tz`` names the zone the
    naive times are in. ``progress(bytes_read, total_bytes)`` is called as the file is read.
    """
    path = Path(path)
    total = path.stat().st_size
    chunks: list[pd.DataFrame] = []
    header = pd.read_csv(path, nrows=0, skipinitialspace=True)
    time_col = _time_column(header, path)
    with path.open("rb") as handle:  # prices parse as numbers; a bad one leaves its column as text
        reader = pd.read_csv(handle, chunksize=READ_CHUNK_ROWS, dtype={time_col: str}, skipinitialspace=True)
        for chunk in reader:
            chunks.append(chunk)
            if progress is not None:
                progress(handle.tell(), total)
    if not chunks:
        raise BarsInvalid(f"{path}: no rows")
    raw = pd.concat(chunks, ignore_index=True)
    if progress is not None:
        progress(total, total)
    index = _parse_times(raw[time_col], path, tz)
    frame = raw.drop(columns=[time_col]).set_axis(index, axis=0)
    return validate_bars(frame, where=str(path), first_line=2)


def _time_column(raw: pd.DataFrame, path: Path) -> str:
    by_name = {str(c).strip().lower(): str(c) for c in raw.columns}
    for name in TIME_COLUMNS:
        if name in by_name:
            return by_name[name]
    raise BarsInvalid(
        f"{path}: missing a time column (one of {list(TIME_COLUMNS)}); found {list(raw.columns)}"
    )


def _parse_times(column: pd.Series, path: Path, tz: str | None) -> pd.DatetimeIndex:
    text = column.fillna("").astype(str).str.strip()
    has_offset = text.str.contains(_HAS_OFFSET)
    if tz is None and not has_offset.all():
        i = int(np.argmin(has_offset.to_numpy()))
        raise BarsInvalid(
            f"{path} line {i + 2}: timestamp {text.iloc[i]!r} is naive (no UTC offset); write it as "
            "2024-01-02T14:30:00Z (or +00:00), or say which zone naive times are in (--tz)"
        )
    if tz is not None and has_offset.any():
        naive = text
        aware_rows = np.flatnonzero(has_offset.to_numpy())
        raise BarsInvalid(
            f"{path} line {int(aware_rows[0]) + 2}: timestamp {naive.iloc[aware_rows[0]]!r} has an offset "
            f"but --tz {tz} says the times are naive; use one form for the whole file"
        )
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=tz is None)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        raise BarsInvalid(f"{path} line {i + 2}: cannot read {text.iloc[i]!r} as a timestamp")
    index = pd.DatetimeIndex(parsed)
    if tz is not None:
        try:
            index = index.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except (ValueError, TypeError) as exc:  # a DST gap or overlap, or an unknown zone
            raise BarsInvalid(f"{path}: cannot place naive times in {tz}: {exc}") from None
    return index.tz_convert("UTC")
