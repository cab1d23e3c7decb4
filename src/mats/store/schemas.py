"""Column names and dtypes of the tables MATS writes, in one place.

The journal (SQLite) and ArcticDB hold the same rows for ``{account}/fills`` and ``{account}/orders``; both
sides build their frames from these definitions, so a column is added here once. Conventions: times are tz-
aware UTC (``datetime64[ns, UTC]``, NaT when unknown), text is ``""`` rather than None (ArcticDB string
columns and static-schema appends are happiest that way), ``perm_id`` 0 means "not assigned yet", a float
NaN means "not known yet" (e.g. a fill's commission before its report arrives)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

INDEX: Final = "recorded_at"
"""Every journaled table is indexed by the journal's commit time: strictly increasing with the sequence."""

UTC_NS: Final = "datetime64[ns, UTC]"

# kinds of rows in {account}/fills
KIND_FILL: Final = "fill"
KIND_CORRECTION: Final = "correction"
KIND_COMMISSION: Final = "commission"

FILLS_SYMBOL: Final = "fills"
ORDERS_SYMBOL: Final = "orders"


class TableSchema:
    """An ordered column → dtype mapping plus the index, able to turn plain row tuples into a typed frame."""

    def __init__(self, name: str, columns: Sequence[tuple[str, str]]) -> None:
        self.name = name
        self.columns: tuple[tuple[str, str], ...] = tuple(columns)
        self.names: tuple[str, ...] = tuple(c for c, _ in self.columns)

    @property
    def dtypes(self) -> dict[str, str]:
        return dict(self.columns)

    def frame(self, index_ns: Sequence[int], rows: Iterable[Sequence[Any]]) -> pd.DataFrame:
        """A frame from row tuples ordered like ``names``; ``UTC_NS`` columns come as int ns (None = NaT)."""
        transposed = list(zip(*rows, strict=True)) or [() for _ in self.columns]
        data: dict[str, Any] = {}
        for (col, dtype), values in zip(self.columns, transposed, strict=True):
            if dtype == UTC_NS:
                ns = np.array([np.iinfo(np.int64).min if v is None else v for v in values], dtype=np.int64)
                data[col] = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")
            elif dtype == "object":
                data[col] = np.array(["" if v is None else v for v in values], dtype=object)
            elif dtype == "float64":
                data[col] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            else:
                data[col] = np.array([0 if v is None else v for v in values], dtype=dtype)
        index = pd.DatetimeIndex(np.asarray(index_ns, dtype=np.int64).view("datetime64[ns]"), name=INDEX)
        return pd.DataFrame(data, index=index.tz_localize("UTC"))

    def empty(self) -> pd.DataFrame:
        return self.frame([], [])

    def with_utc_times(self, df: pd.DataFrame) -> pd.DataFrame:
        """ArcticDB restores the index's timezone but returns datetime columns naive (UTC): fix that."""
        naive = [c for c, t in self.columns if t == UTC_NS and c in df and df[c].dtype.kind == "M"]
        naive = [c for c in naive if getattr(df[c].dtype, "tz", None) is None]
        if not naive:
            return df
        return df.assign(**{c: df[c].dt.tz_localize("UTC") for c in naive})


FILLS = TableSchema(
    FILLS_SYMBOL,
    [
        ("seq", "int64"),  # journal sequence of this row
        ("exec_id", "object"),
        ("base_exec_id", "object"),
        ("revision", "int64"),
        ("kind", "object"),  # fill | correction | commission
        ("exec_time", UTC_NS),
        ("perm_id", "int64"),
        ("order_ref", "object"),
        ("strategy_id", "object"),
        ("con_id", "int64"),
        ("symbol", "object"),
        ("side", "object"),
        ("qty", "float64"),  # unsigned, as IB reports shares
        ("price", "float64"),
        ("commission", "float64"),
        ("currency", "object"),
        ("multiplier", "float64"),
        ("realized_pnl", "float64"),  # from the commission report, NaN otherwise
    ],
)

ORDERS = TableSchema(
    ORDERS_SYMBOL,
    [
        ("seq", "int64"),
        ("order_ref", "object"),
        ("client_order_id", "object"),
        ("perm_id", "int64"),
        ("strategy_id", "object"),
        ("symbol", "object"),
        ("status", "object"),
        ("qty", "float64"),  # signed, as requested
        ("filled", "float64"),
        ("remaining", "float64"),
        ("avg_fill_price", "float64"),
        ("reason", "object"),
        ("at", UTC_NS),
    ],
)

FOLDED_FILLS_COLUMNS: Final = tuple(n for n in FILLS.names if n not in ("kind",))
"""One row per execution (latest revision, commission joined); ``seq`` is the winning row's sequence."""
