"""Sweeps on Dask: every point of the grid, the same numbers as one run at a time, bars from the store.

One test uses worker processes reading the bars from the shared LMDB store by URI (the way a real
cluster's workers do; about 6 s of start-up on this machine); the others use in-process workers
(``processes=False``) to stay quick.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mats.backtest import run
from mats.backtest.data import synth_bars
from mats.backtest.storage import write_bars
from mats.backtest.sweep import grid_points, parse_grid, sweep
from mats.store import ArcticStore

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
REF = "strategies.sma_cross:SmaCross"


def test_the_grid_is_the_cartesian_product_in_the_order_given() -> None:
    grid = parse_grid(["fast=5,10,20", "slow=50,100"], int)
    assert grid == {"fast": [5, 10, 20], "slow": [50, 100]}
    assert grid_points(grid)[:3] == [
        {"fast": 5, "slow": 50},
        {"fast": 5, "slow": 100},
        {"fast": 10, "slow": 50},
    ]
    assert len(grid_points(grid)) == 6
    with pytest.raises(ValueError, match="NAME=V1,V2"):
        parse_grid(["fast"], int)


def test_a_sweep_gives_one_row_per_point_with_the_numbers_of_a_single_run() -> None:
    bars = synth_bars(4_000, seed=8)
    progress: list[tuple[int, int]] = []
    grid = {"fast": [5, 10], "slow": [40, 80]}
    table = sweep(
        REF,
        bars,
        grid,
        n_workers=2,
        processes=False,
        commission=0.0,
        progress=lambda d, t: progress.append((d, t)),
    )
    assert table[["fast", "slow"]].to_dict("records") == grid_points(grid)
    assert progress[-1] == (4, 4) and [d for d, _ in progress] == [1, 2, 3, 4]
    for row in table.itertuples():
        alone = run(REF, bars, params={"fast": row.fast, "slow": row.slow}, commission=0.0)
        assert row.final_equity == alone.stats["final_equity"]
        assert row.trades == alone.stats["trades"]
        assert row.sharpe == alone.stats["sharpe"]


async def test_worker_processes_read_the_bars_from_the_shared_store(
    arctic_uri: str, store: ArcticStore
) -> None:
    bars = synth_bars(3_000, seed=12)
    await write_bars(store, "QQQ_1min", bars)
    table = await _sweep_in_thread(arctic_uri)
    assert len(table) == 3 and list(table["fast"]) == [5, 10, 20]
    alone = run(REF, {"QQQ": bars}, params={"fast": 10, "slow": 60}, commission=0.0)
    assert table.loc[1, "final_equity"] == alone.stats["final_equity"]
    assert table.loc[1, "trades"] == alone.stats["trades"] > 5


async def _sweep_in_thread(arctic_uri: str) -> pd.DataFrame:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(
        lambda: sweep(
            REF,
            "QQQ_1min",
            {"fast": [5, 10, 20], "slow": [60]},
            n_workers=2,
            processes=True,
            arctic_uri=arctic_uri,
            commission=0.0,
        )
    )


async def test_a_sweep_sent_to_a_scheduler_by_address_reads_bars_from_the_store(
    arctic_uri: str, store: ArcticStore
) -> None:
    """The ``--cluster tcp://…`` path: a scheduler started elsewhere, workers that read the store by URI."""
    import anyio.to_thread
    from distributed import LocalCluster

    bars = synth_bars(2_000, seed=13)
    await write_bars(store, "DIA_1min", bars)

    def on_a_cluster() -> pd.DataFrame:
        with LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster:
            return sweep(
                REF, "DIA_1min", {"fast": [5, 10]}, address=cluster.scheduler_address, arctic_uri=arctic_uri
            )

    table = await anyio.to_thread.run_sync(on_a_cluster)
    alone = run(REF, {"DIA": bars}, params={"fast": 10})
    assert table.loc[1, "final_equity"] == alone.stats["final_equity"]
    assert table.loc[1, "commissions"] == alone.stats["commissions"] > 0
