"""Folding ``{account}/fills`` (append-only, kinds fill/correction/commission) to one row per execution.

The rule (DESIGN section 3): an execution is identified by its base execId; the highest revision wins; its
commission is the latest commission report for the winning execId (a report overrides a commission carried
inline on the fill; a correction does not inherit the commission of the revision it replaces). Rows are in
order of first appearance, indexed by when the execution was first recorded; ``seq`` is the winning row's
sequence.

``fold_fills`` is the pure, whole-table version. ``FoldedFills`` keeps the same result up to date from
deltas in journal order, so a reader that has seen 100,000 fills answers from memory instead of re-reading
and re-folding."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mats.store.schemas import FILLS, FOLDED_FILLS_COLUMNS, INDEX, KIND_COMMISSION, UTC_NS

_TIME_COLUMNS = frozenset(c for c, t in FILLS.columns if t == UTC_NS)


def _commission_reports(rows: pd.DataFrame) -> pd.DataFrame:
    reports = rows.loc[rows["kind"].to_numpy() == KIND_COMMISSION, ["exec_id", "commission", "realized_pnl"]]
    return reports.drop_duplicates("exec_id", keep="last").set_index("exec_id")


def fold_fills(rows: pd.DataFrame) -> pd.DataFrame:
    """``{account}/fills`` rows (in journal order) → one row per execution, commission joined."""
    rows = FILLS.with_utc_times(rows)
    if rows.empty:
        return rows.reindex(columns=list(FOLDED_FILLS_COLUMNS)).iloc[:0]
    is_report = rows["kind"].to_numpy() == KIND_COMMISSION
    execs = rows.loc[~is_report]
    first = execs.drop_duplicates("base_exec_id", keep="first")
    winners = (
        execs.sort_values(["revision", "seq"], kind="stable")
        .drop_duplicates("base_exec_id", keep="last")
        .set_index("base_exec_id", drop=False)
        .reindex(first["base_exec_id"].to_numpy())
    )
    out = winners.loc[:, list(FOLDED_FILLS_COLUMNS)].copy()
    out.index = first.index
    reports = _commission_reports(rows)
    if not reports.empty:
        exec_ids = out["exec_id"]
        commission = exec_ids.map(reports["commission"])
        has_report = exec_ids.isin(reports.index).to_numpy()
        out.loc[has_report, "commission"] = commission.to_numpy()[has_report]
        out.loc[has_report, "realized_pnl"] = exec_ids.map(reports["realized_pnl"]).to_numpy()[has_report]
    return out


class FoldedFills:
    """The folded view, kept up to date from ``{account}/fills`` deltas (rows with seq > last_seq)."""

    def __init__(self) -> None:
        self.last_seq = 0
        self._n = 0
        self._cap = 0
        self._cols: dict[str, np.ndarray[Any, Any]] = {
            c: np.empty(0, dtype=_dtype(c)) for c in FOLDED_FILLS_COLUMNS
        }
        self._first_recorded = np.empty(0, dtype=np.int64)
        self._pos: dict[str, int] = {}
        self._reports: dict[str, tuple[float, float]] = {}
        self._frame: pd.DataFrame | None = None
        self._shared: set[str] = set()

    def __len__(self) -> int:
        return self._n

    def apply(self, rows: pd.DataFrame) -> None:
        """Fold in rows in journal order; rows already seen (seq ≤ last_seq) are skipped."""
        if rows.empty:
            return
        rows = rows.loc[rows["seq"].to_numpy() > self.last_seq]
        if rows.empty:
            return
        self.last_seq = int(rows["seq"].to_numpy()[-1])
        self._frame = None
        is_report = rows["kind"].to_numpy() == KIND_COMMISSION
        reports = rows.loc[is_report]
        for exec_id, commission, pnl in zip(
            reports["exec_id"].to_numpy(),
            reports["commission"].to_numpy(),
            reports["realized_pnl"].to_numpy(),
            strict=True,
        ):
            self._reports[exec_id] = (commission, pnl)
        execs = rows.loc[~is_report]
        if not execs.empty:
            self._apply_executions(fold_fills(execs))
        if len(reports):
            self._join_reports(reports["base_exec_id"].to_numpy())

    def frame(self) -> pd.DataFrame:
        """The folded fills, read-only (``.copy()`` to modify); cached until the next change.

        Built without copying (the columns are read-only views of the view's arrays); a later change to an
        existing row copies that column first, so a frame handed out never changes under its reader.
        """
        if self._frame is None:
            n = self._n
            data: dict[str, Any] = {}
            for col in FOLDED_FILLS_COLUMNS:
                arr = self._cols[col][:n]
                arr.flags.writeable = False
                if col in _TIME_COLUMNS:
                    data[col] = pd.DatetimeIndex(arr.view("datetime64[ns]")).tz_localize("UTC")
                else:
                    data[col] = arr
            index = pd.DatetimeIndex(self._first_recorded[:n].view("datetime64[ns]"), name=INDEX)
            self._frame = pd.DataFrame(data, index=index.tz_localize("UTC"), copy=False)
            self._shared = set(FOLDED_FILLS_COLUMNS)
        return self._frame

    def _writable(self, col: str) -> np.ndarray[Any, Any]:
        """The column's array, copied first if a handed-out frame still shares it (copy-on-write)."""
        if col in self._shared:
            self._cols[col] = self._cols[col].copy()
            self._shared.discard(col)
        return self._cols[col]

    # ---- internals --------------------------------------------------------------------------------------

    def _apply_executions(self, folded: pd.DataFrame) -> None:
        bases = folded["base_exec_id"].to_numpy()
        pos = np.fromiter((self._pos.get(b, -1) for b in bases), dtype=np.int64, count=len(bases))
        is_new = pos < 0
        values = {c: _as_array(folded[c]) for c in FOLDED_FILLS_COLUMNS}
        known = np.flatnonzero(~is_new)
        if len(known):
            better = values["revision"][known] > self._cols["revision"][pos[known]]
            src, dst = known[better], pos[known][better]
            for col in FOLDED_FILLS_COLUMNS:
                if len(dst):
                    self._writable(col)[dst] = values[col][src]
            self._join_own_reports(dst)
        fresh = np.flatnonzero(is_new)
        if len(fresh):
            start = self._n
            self._grow(start + len(fresh))
            stop = start + len(fresh)
            for col in FOLDED_FILLS_COLUMNS:
                self._cols[col][start:stop] = values[col][fresh]
            self._first_recorded[start:stop] = _as_array(folded.index.to_series())[fresh]
            for i, base in enumerate(bases[fresh]):
                self._pos[base] = start + i
            self._n = stop
            self._join_own_reports(np.arange(start, stop))

    def _join_own_reports(self, positions: np.ndarray[Any, Any]) -> None:
        if not self._reports or not len(positions):
            return
        exec_ids = self._cols["exec_id"]
        for p in positions:
            report = self._reports.get(exec_ids[p])
            if report is not None:
                self._writable("commission")[p], self._writable("realized_pnl")[p] = report

    def _join_reports(self, bases: np.ndarray[Any, Any]) -> None:
        positions = [p for p in (self._pos.get(b, -1) for b in bases) if p >= 0]
        self._join_own_reports(np.asarray(positions, dtype=np.int64))

    def _grow(self, needed: int) -> None:
        if needed <= self._cap:
            return
        cap = max(needed + needed // 2, 2 * self._cap, 1024)
        for col in FOLDED_FILLS_COLUMNS:
            fresh = np.empty(cap, dtype=_dtype(col))
            if self._n:
                fresh[: self._n] = self._cols[col][: self._n]
            self._cols[col] = fresh
        first = np.empty(cap, dtype=np.int64)
        first[: self._n] = self._first_recorded[: self._n]
        self._first_recorded = first
        self._cap = cap
        self._shared.clear()  # fresh arrays: frames handed out keep the old ones


def _dtype(col: str) -> Any:
    dtype = FILLS.dtypes[col]
    return np.int64 if dtype == UTC_NS else np.dtype(dtype)


def _as_array(series: pd.Series) -> np.ndarray[Any, Any]:
    if isinstance(series.dtype, pd.DatetimeTZDtype) or series.dtype.kind == "M":
        return np.asarray(series.to_numpy(dtype="datetime64[ns]").view(np.int64))
    return series.to_numpy()
