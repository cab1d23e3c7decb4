"""Bars of one or several symbols as columns, merged in time order, with a clock nobody can run ahead of.

The replay reads the merged columns; strategies see history only up to ``visible_ns``, the time of the
latest bar delivered, so ``get_data`` can never look into the future.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from mats.brokers.schedule import ScheduledJob

OHLC = ("open", "high", "low", "close")
NEVER = np.iinfo(np.int64).max
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def normalize_frame(symbol: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Lower-case OHLCV float columns on a sorted, unique, tz-aware UTC index; errors name the problem.

    Builds the result from the columns directly (one copy of the prices, none of the whole frame), so
    a million bars cost their 48 MB once, not three times over.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"bars for {symbol!r} must be a DataFrame, got {type(frame).__name__}")
    by_lower = {str(c).lower(): c for c in frame.columns}
    missing = [c for c in OHLC if c not in by_lower]
    if missing:
        raise ValueError(f"bars for {symbol!r} lack column(s) {missing}; they have {list(frame.columns)}")
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(f"bars for {symbol!r} need a DatetimeIndex, got {type(index).__name__}")
    if index.tz is None:
        raise ValueError(f"bars for {symbol!r} have naive timestamps; use frame.tz_localize('UTC') first")
    ns = index.as_unit("ns").to_numpy(dtype="datetime64[ns]").view(np.int64)
    if len(ns) > 1 and not (np.diff(ns) > 0).all():  # sorted and unique in one O(n) pass, no hashing
        raise ValueError(f"bars for {symbol!r} must have sorted, unique timestamps")
    columns = {c: frame[by_lower[c]].to_numpy(dtype=np.float64) for c in OHLC}
    for c, values in columns.items():
        bad = np.flatnonzero(np.isnan(values))
        if len(bad):
            raise ValueError(f"bars for {symbol!r} have NaN {c} prices, first at {index[int(bad[0])]}")
    volume = by_lower.get("volume")
    columns["volume"] = (
        frame[volume].to_numpy(dtype=np.float64) if volume is not None else np.zeros(len(frame))
    )
    return pd.DataFrame(columns, index=index.tz_convert("UTC").as_unit("ns"))


class Market:
    """The replay's data and clock: merged columns, per-symbol frames, and scheduled jobs."""

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        if not frames:
            raise ValueError("a backtest needs bars for at least one symbol")
        self.symbols: list[str] = list(frames)
        self.frames = {s: normalize_frame(s, f) for s, f in frames.items()}
        times = [self.frames[s].index.to_numpy(dtype="datetime64[ns]").view(np.int64) for s in self.symbols]
        self._times_by_symbol = dict(zip(self.symbols, times, strict=True))
        self._closes = [self.frames[s]["close"].to_numpy() for s in self.symbols]
        if len(times) == 1:  # one symbol: its bars are the merged columns, no sort or gather needed
            self.times_ns = times[0]
            self.sym = np.zeros(len(times[0]), dtype=np.int64)
            frame = self.frames[self.symbols[0]]
            self.columns = {c: frame[c].to_numpy() for c in (*OHLC, "volume")}
        else:
            all_times = np.concatenate(times)
            sym = np.concatenate([np.full(len(t), k, dtype=np.int64) for k, t in enumerate(times)])
            order = np.lexsort((sym, all_times))  # by time, then by symbol order at equal times
            self.times_ns = all_times[order]
            self.sym = sym[order]
            self.columns = {
                c: np.concatenate([self.frames[s][c].to_numpy() for s in self.symbols])[order]
                for c in (*OHLC, "volume")
            }
        self.visible_ns = int(self.times_ns[0]) - 1 if len(self.times_ns) else 0
        self.next_due_ns = int(NEVER)
        self._jobs: list[tuple[int, int, ScheduledJob]] = []
        self._job_seq = itertools.count()

    def __len__(self) -> int:
        return len(self.times_ns)

    def now(self) -> datetime:
        return _EPOCH + timedelta(microseconds=self.visible_ns // 1000)

    def last_close(self, k: int) -> float:
        """The close of symbol ``k``'s latest visible bar (NaN before its first)."""
        i = int(np.searchsorted(self._times_by_symbol[self.symbols[k]], self.visible_ns, side="right")) - 1
        return float(self._closes[k][i]) if i >= 0 else math.nan

    def rows_of(self, k: int) -> np.ndarray:
        """Positions of symbol ``k``'s bars in the merged columns."""
        return np.flatnonzero(self.sym == k)

    def history(
        self, key: str, start: datetime | None, end: datetime | None, bar_size: str | None
    ) -> pd.DataFrame:
        """Bars of ``key`` up to the latest visible bar, optionally within [start, end] and resampled."""
        if key not in self.frames:
            raise KeyError(f"no bars for {key!r} in this backtest; it has {self.symbols}")
        cut = int(np.searchsorted(self._times_by_symbol[key], self.visible_ns, side="right"))
        frame = self.frames[key].iloc[:cut]
        if start is not None or end is not None:
            frame = frame.loc[start:end]
        if bar_size is not None:
            frame = resample(frame, bar_size)
        return frame.copy()

    def schedule(self, job: ScheduledJob) -> None:
        job.next_due = job.due_after(self.now())
        self._push(job)

    def run_due(self, until_ns: int) -> list[ScheduledJob]:
        """Jobs due at or before ``until_ns``, rescheduled for their next firing; in firing order."""
        due: list[ScheduledJob] = []
        while self._jobs and self._jobs[0][0] <= until_ns:
            _, _, job = heapq.heappop(self._jobs)
            if job.cancelled:
                continue
            due.append(job)
            assert job.next_due is not None
            next_due = job.due_after(job.next_due)
            horizon = _EPOCH + timedelta(microseconds=until_ns // 1000)
            while next_due <= horizon:  # a gap (night, weekend) fires once, not once per missed period
                next_due = job.due_after(next_due)
            job.next_due = next_due
            self._push(job, refresh=False)
        self.next_due_ns = self._jobs[0][0] if self._jobs else int(NEVER)
        return due

    def _push(self, job: ScheduledJob, refresh: bool = True) -> None:
        assert job.next_due is not None
        due_ns = int((job.next_due - _EPOCH) / timedelta(microseconds=1)) * 1000
        heapq.heappush(self._jobs, (due_ns, next(self._job_seq), job))
        if refresh:
            self.next_due_ns = self._jobs[0][0]


def resample(frame: pd.DataFrame, bar_size: str) -> pd.DataFrame:
    """OHLCV bars aggregated to ``bar_size`` (``"5min"``, ``"1h"``, ``"1D"``); the last bar may be partial."""
    rule = bar_size.replace("mins", "min").replace(" ", "")
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    return frame.resample(rule, label="left", closed="left").agg(agg).dropna(subset=["open"])  # type: ignore[arg-type]
