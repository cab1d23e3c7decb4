"""JSON rows from the API → pandas objects a notebook can plot, filter and join.

Kept apart from the HTTP client so the shapes (index, column order, dtypes) are decided in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

FILL_COLUMNS = [
    "exec_id", "strategy_id", "symbol", "side", "qty", "price", "commission", "currency",
    "order_ref", "con_id",
]  # fmt: skip
STRATEGY_COLUMNS = [
    "strategy_id", "cls", "status", "symbols", "params", "target_weight", "equity", "bar_size", "autostart",
    "client_id", "reason",
]  # fmt: skip
POSITION_COLUMNS = [
    "strategy_id", "symbol", "con_id", "qty", "avg_cost", "market_price", "market_value", "unrealized_pnl",
    "realized_pnl", "currency",
]  # fmt: skip
ORDER_COLUMNS = [
    "order_ref", "strategy_id", "symbol", "state", "qty", "filled", "remaining", "avg_fill_price", "perm_id",
    "reason", "at",
]  # fmt: skip


def frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Rows with the known columns first (present even when there are no rows), extra ones after."""
    df = pd.DataFrame(list(rows))
    extra = [c for c in df.columns if c not in columns]
    return df.reindex(columns=[*columns, *extra])


def utc(values: Any) -> Any:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def fills_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Fills indexed by execution time (oldest first), as ``mats.backtest`` results are."""
    df = frame(rows, ["time", *FILL_COLUMNS])
    df["time"] = utc(df["time"])
    df = df.set_index("time").sort_index(kind="stable")
    return df.astype({"qty": float, "price": float, "commission": float})


def strategies_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return frame(rows, STRATEGY_COLUMNS).set_index("strategy_id")


def positions_frame(body: Mapping[str, Any]) -> pd.DataFrame:
    """``GET /api/portfolio``'s positions; the totals ride along in ``DataFrame.attrs``."""
    df = frame(body.get("positions", []), POSITION_COLUMNS)
    df.attrs.update(
        account=body.get("account", ""),
        base_currency=body.get("base_currency", ""),
        total_equity=body.get("total_equity"),
        as_of=pd.Timestamp(body["as_of"]) if body.get("as_of") else None,
        reconciliation=list(body.get("reconciliation", [])),  # rows: reconciliation_frame() shapes them
    )
    return df


def reconciliation_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    columns = ["con_id", "symbol", "ib_qty", "attributed_qty", "discretionary_qty", "break_qty", "locked"]
    return frame(rows, columns)


def orders_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    df = frame(rows, ORDER_COLUMNS)
    df["at"] = utc(df["at"])
    return df.set_index("order_ref")


def equity_series(body: Mapping[str, Any]) -> pd.Series:
    """An equity (or a strategy's PnL) curve indexed by sample time; daily PnL in ``attrs``."""
    points = body.get("points", [])
    index = pd.DatetimeIndex(utc([p["at"] for p in points]), name="at")
    series = pd.Series(
        [float(p["equity"]) for p in points], index=index, name=body.get("strategy_id") or "equity"
    )
    series.attrs.update(base_currency=body.get("base_currency", ""), daily_pnl=body.get("daily_pnl"))
    return series


def symbol_frame(body: Mapping[str, Any]) -> pd.DataFrame:
    """An Arctic symbol's preview, indexed as stored; an ISO-text index becomes a DatetimeIndex."""
    index_name = str(body.get("index_name") or "index")
    df = frame(body.get("rows", []), [index_name, *body.get("columns", [])])
    if len(df) and df[index_name].map(lambda v: isinstance(v, str)).all():
        try:
            df[index_name] = utc(df[index_name])
        except (ValueError, TypeError):
            pass  # a text index that is not time stays text
    df = df.set_index(index_name)
    df.attrs.update(library=body.get("library"), symbol=body.get("symbol"), metadata=body.get("metadata"))
    return df
