"""Bars and results in ArcticDB, always through :class:`mats.store.ArcticStore`.

``market_data/{SYMBOL}_{bar_size}`` holds bars; ``backtests/{run_id}_equity`` and ``{run_id}_fills`` hold a
run's results, both with the same metadata (what ran, its parameters, its statistics). A sweep is
``backtests/{sweep_id}_sweep``: one row per parameter set.

Scripts have no event loop: :func:`run_sync` drives the async store with ``asyncio.run``, or, when a
loop is already running in this thread (a notebook calling the sync API), on a helper thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from ulid import ULID

from mats.backtest.data import BarsInvalid, instrument_of, validate_bars
from mats.backtest.result import FILL_COLUMNS, BacktestResult
from mats.store import ArcticStore

MARKET_DATA = "market_data"
BACKTESTS = "backtests"
DEFAULT_URI = "lmdb://.mats/arctic"

T = TypeVar("T")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run ``make()`` to completion from synchronous code, whether or not a loop runs in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coro(make))
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mats-store-sync") as pool:
        return pool.submit(asyncio.run, _as_coro(make)).result()


async def _as_coro(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def new_run_id(prefix: str = "bt") -> str:
    """Sortable by creation time, unique, and safe in an ArcticDB symbol name."""
    return f"{prefix}_{str(ULID()).lower()}"


# ---- market data ------------------------------------------------------------------------------------------


async def read_bars(
    store: ArcticStore,
    name: str,
    *,
    start: datetime | pd.Timestamp | None = None,
    end: datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The bars of ``market_data/{name}``; a missing symbol is an error that lists what is there."""
    known = await store.list_symbols(MARKET_DATA, refresh=True)
    if name not in known:
        shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "") if known else "nothing"
        raise KeyError(f"market_data has no symbol {name!r} in {_where(store)}; it has {shown}")
    date_range = (start, end) if start is not None or end is not None else None
    frame = await store.read(MARKET_DATA, name, date_range=date_range)
    if frame.empty:
        raise BarsInvalid(f"market_data/{name} has no bars between {start} and {end}")
    return frame


async def read_frames(
    store: ArcticStore,
    names: Sequence[str],
    *,
    start: datetime | pd.Timestamp | None = None,
    end: datetime | pd.Timestamp | None = None,
) -> dict[str, pd.DataFrame]:
    """``["AAPL_1min", "ESZ6_1min"]`` → ``{"AAPL": bars, "ESZ6": bars}``, ready for ``run``."""
    return {instrument_of(n): await read_bars(store, n, start=start, end=end) for n in names}


async def write_bars(
    store: ArcticStore, name: str, bars: pd.DataFrame, *, append: bool = False, source: str = ""
) -> int:
    """Validate all of ``bars`` first, then store them in one write (or one append): nothing half-written.

    Appending refuses bars that do not start after the stored ones, naming both times.
    """
    clean = validate_bars(bars, where=f"bars for {name}")
    metadata = {"source": source, "written_at": datetime.now(UTC).isoformat(), "rows": len(clean)}
    if append and name in await store.list_symbols(MARKET_DATA, refresh=True):
        last = (await store.tail(MARKET_DATA, name, 1)).index[-1]
        if clean.index[0] <= last:
            raise BarsInvalid(
                f"cannot append to market_data/{name}: the new bars start at {clean.index[0]}, not after "
                f"the stored ones, which end at {last}; nothing was written"
            )
        return await store.append(MARKET_DATA, name, clean, metadata=metadata)
    return await store.write(MARKET_DATA, name, clean, metadata=metadata)


def market_data_names(data: Any) -> list[str] | None:
    """The ``market_data`` symbols ``data`` names, or None if it is bars already."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, Sequence) and not isinstance(data, pd.DataFrame):
        names = list(data)
        if not all(isinstance(n, str) for n in names):
            raise TypeError("data as a list must be market_data symbol names like 'AAPL_1min'")
        return names
    return None


def store_uri(arctic_uri: str | None = None) -> str:
    """``arctic_uri``, else ``MATS_ARCTIC_URI``, else the default store under ``./.mats``."""
    return arctic_uri or os.environ.get("MATS_ARCTIC_URI") or DEFAULT_URI


async def read_named_frames(names: Sequence[str], arctic_uri: str | None) -> dict[str, pd.DataFrame]:
    async with ArcticStore(store_uri(arctic_uri)) as store:
        return await read_frames(store, names)


# ---- results ----------------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Stats and params as plain JSON-able values: times as ISO strings, numpy scalars as Python ones."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return repr(value)


async def save_result(store: ArcticStore, result: BacktestResult, run_id: str | None = None) -> str:
    """Write a run's equity curve and fills to ``backtests``, with what ran and its stats as metadata."""
    run_id = run_id or result.run_id or new_run_id()
    metadata = {
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "stats": jsonable(result.stats),
        "params": jsonable(result.meta),
    }
    equity = result.equity.rename("equity").to_frame()
    equity.index.name = "time"
    fills = result.fills.copy()
    if fills.empty:  # an empty frame still records the columns a reader expects
        fills = pd.DataFrame({c: pd.Series(dtype="float64") for c in FILL_COLUMNS}).set_index(
            pd.DatetimeIndex([], tz="UTC", name="time")
        )
    await store.write(BACKTESTS, f"{run_id}_equity", equity, metadata=metadata)
    await store.write(BACKTESTS, f"{run_id}_fills", fills, metadata=metadata)
    return run_id


async def load_result(store: ArcticStore, run_id: str) -> tuple[pd.Series, pd.DataFrame, dict[str, Any]]:
    """A stored run: (equity, fills, metadata with ``stats`` and ``params``)."""
    equity = await store.read(BACKTESTS, f"{run_id}_equity")
    fills = await store.read(BACKTESTS, f"{run_id}_fills")
    metadata = await store.read_metadata(BACKTESTS, f"{run_id}_equity")
    return equity["equity"], fills, dict(metadata or {})


async def save_sweep(
    store: ArcticStore, table: pd.DataFrame, grid: Mapping[str, Sequence[Any]], sweep_id: str | None = None
) -> str:
    """One row per parameter set, written as ``backtests/{sweep_id}_sweep`` with the grid as metadata."""
    sweep_id = sweep_id or new_run_id("sweep")
    frame = table.reset_index(drop=True)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: "" if v is None else str(v))  # one dtype: str
    metadata = {
        "sweep_id": sweep_id,
        "grid": jsonable(dict(grid)),
        "created_at": datetime.now(UTC).isoformat(),
    }
    await store.write(BACKTESTS, f"{sweep_id}_sweep", frame, metadata=metadata)
    return sweep_id


def _where(store: ArcticStore) -> str:
    return store.uri.split("?")[0]
