"""Parameter sweeps on Dask's distributed scheduler: one backtest per point of a grid, stats as one table.

By default a ``LocalCluster`` with a worker process per core; ``address="tcp://host:8786"`` uses a
real cluster instead. Bars named as ``market_data`` symbols are read by each worker from the shared
store (``arctic_uri``; on a cluster it must be one every worker reaches, such as S3), once per worker
process; bars given as DataFrames are sent to every worker once. Workers return stats only (a few
hundred bytes per run), never fills or curves.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from mats.backtest.data import Progress
from mats.backtest.runner import StrategyArg, run
from mats.backtest.storage import market_data_names, read_named_frames, run_sync

_BARS_CACHE: dict[tuple[str, tuple[str, ...]], dict[str, pd.DataFrame]] = {}
_BARS_LOCK = threading.Lock()


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of the grid, in the order the values were given."""
    if not grid:
        return [{}]
    empty = [name for name, values in grid.items() if not len(values)]
    if empty:
        raise ValueError(f"sweep grid has no values for {empty}")
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


def _worker_bars(arctic_uri: str | None, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Bars read once per worker process (and shared by its threads) from the store."""
    key = (arctic_uri or "", names)
    with _BARS_LOCK:
        if key not in _BARS_CACHE:
            _BARS_CACHE[key] = run_sync(lambda: read_named_frames(names, arctic_uri))
        return _BARS_CACHE[key]


def _one_run(
    strategy: StrategyArg,
    data: Any,
    names: tuple[str, ...] | None,
    arctic_uri: str | None,
    params: dict[str, Any],
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """What a worker runs: one backtest, its parameters and stats as one row."""
    bars = _worker_bars(arctic_uri, names) if names is not None else data
    result = run(strategy, bars, params=params, **kwargs)
    row = dict(params)
    row.update({k: v for k, v in result.stats.items() if k not in params})
    return row


def sweep(
    strategy: StrategyArg,
    data: Any,
    grid: Mapping[str, Sequence[Any]],
    *,
    address: str | None = None,
    n_workers: int | None = None,
    processes: bool = True,
    arctic_uri: str | None = None,
    progress: Progress | None = None,
    client: Any = None,
    **run_kwargs: Any,
) -> pd.DataFrame:
    """Backtest ``strategy`` at every point of ``grid`` (``{"fast": [5, 10], "slow": [50, 100]}``).

    Returns one row per point: the parameters, then the stats, in grid order. ``progress(done,
    total)`` is called as runs finish. ``client``: an existing ``distributed.Client`` to use as is.
    """
    from distributed import Client, LocalCluster, as_completed

    points = grid_points(grid)
    names = market_data_names(data)
    if isinstance(strategy, list | tuple):
        raise TypeError("a sweep varies one strategy's params; pass a class or 'module:Class'")
    if names is not None and arctic_uri is None:
        arctic_uri = os.environ.get("MATS_ARCTIC_URI")
    cluster = None
    own_client = client is None
    if client is None:
        if address:
            client = Client(address)
        else:
            workers = n_workers or os.cpu_count() or 1
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=None,
                silence_logs=40,
            )
            client = Client(cluster)
    try:
        shared = None
        if names is None:  # bars in memory: ship them to every worker once, not once per run
            shared = client.scatter([data], broadcast=True)[0]
        key_names = tuple(names) if names is not None else None
        futures = {
            client.submit(_one_run, strategy, shared, key_names, arctic_uri, p, run_kwargs, pure=False): i
            for i, p in enumerate(points)
        }
        rows: list[dict[str, Any] | None] = [None] * len(points)
        for done, future in enumerate(as_completed(futures), start=1):
            rows[futures[future]] = future.result()
            if progress is not None:
                progress(done, len(points))
        return pd.DataFrame(rows)
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()


def parse_grid(items: Sequence[str], convert: Callable[[str], Any]) -> dict[str, list[Any]]:
    """``["fast=5,10,20", "slow=50,100"]`` → ``{"fast": [5, 10, 20], "slow": [50, 100]}``."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ValueError(f"--sweep must look like NAME=V1,V2,…, got {item!r}")
        grid[name.strip()] = [convert(v.strip()) for v in values.split(",") if v.strip()]
    return grid
