"""``BacktestRun``: a backtest the engine ran, shaped like ``mats.backtest``'s own result (``equity`` a
Series, ``fills`` a DataFrame indexed by time, ``stats`` a dict) so notebook code works on either."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mats.sdk.frames import frame, utc

FINISHED = frozenset({"done", "failed"})
SUMMARY_COLUMNS = ["run_id", "status", "progress", "created_at", "finished_at", "stats", "error", "request"]


@dataclass(frozen=True)
class BacktestRun:
    run_id: str
    status: str  # queued, running, done, failed
    progress: float
    stats: dict[str, Any] | None
    error: str | None
    request: dict[str, Any] | None
    equity: pd.Series = field(repr=False)
    fills: pd.DataFrame = field(repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def backtest_run(body: Mapping[str, Any]) -> BacktestRun:
    """``GET /api/backtests/{id}`` → a ``BacktestRun`` (empty curve and fills while it still runs)."""
    points: Sequence[Mapping[str, Any]] = body.get("equity") or []
    equity = pd.Series(
        [float(p["equity"]) for p in points],
        index=pd.DatetimeIndex(utc([p["at"] for p in points]), name="time"),
        name="equity",
        dtype=float,
    )
    fills = frame(
        body.get("fills") or [], ["at", "symbol", "side", "qty", "price", "commission", "strategy_id"]
    )
    fills["at"] = utc(fills["at"])
    fills = fills.rename(columns={"at": "time"}).set_index("time")
    return BacktestRun(
        run_id=str(body["run_id"]),
        status=str(body.get("status", "")),
        progress=float(body.get("progress") or 0.0),
        stats=body.get("stats"),
        error=body.get("error"),
        request=body.get("request"),
        equity=equity,
        fills=fills,
    )


def backtests_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """``GET /api/backtests`` → one row per run, newest first, indexed by ``run_id``."""
    df = frame(rows, SUMMARY_COLUMNS)
    for column in ("created_at", "finished_at"):
        df[column] = utc(df[column].replace("", None))
    return df.set_index("run_id")
