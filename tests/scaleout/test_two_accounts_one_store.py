"""Scale-out: two engines for two accounts share one S3 store, each in its own namespace, while a notebook
(the SDK, through each engine's API) and a Dask sweep (straight from the store) read it. A third engine
given a namespace already in use, or an account already traded, is refused before it writes anything."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import dask
import pandas as pd
import pytest
from arcticdb import Arctic

from live.support import wait_for_event
from live.test_live_strategies import bar
from mats.backtest.data import synth_bars
from mats.backtest.storage import write_bars
from mats.backtest.sweep import sweep
from mats.messages import CommissionCharged
from mats.sdk import connect
from mats.sim import SimServer
from mats.store import ArcticStore, StoreError
from mats.store.lease import AccountInUse, NamespaceInUse, read_lease

from .conftest import TOKEN, RunningEngine, account_sim, start_engine
from .test_scenarios_on_s3 import pulse


@dataclass
class SeenByNotebook:
    fills: pd.DataFrame
    portfolio: pd.DataFrame
    libraries: list[str]
    stored: pd.DataFrame


async def trade_and_read(
    running: RunningEngine, sim: SimServer, strategy_id: str, price: float
) -> SeenByNotebook:
    """The strategy trades once; then a notebook reads the account through this engine's API."""
    charges = running.engine.bus.subscribe(types={"fill"})
    sim.control.set_price("AAPL", price)
    await running.trading.actors[strategy_id].tell(bar("AAPL", 0, price))
    await wait_for_event(charges, lambda e: isinstance(e, CommissionCharged), timeout=20)
    assert running.trading.flusher is not None
    await running.trading.flusher.wait_flushed(timeout=20)
    async with connect(running.url, TOKEN) as m:
        return SeenByNotebook(
            fills=await m.fills(),
            portfolio=await m.portfolio(),
            libraries=await m.libraries(),
            stored=await m.read(sim.config.account, "fills"),
        )


def sma_sweep(uri: str, scratch: Path) -> pd.DataFrame:
    """A research worker: four backtests on one in-process Dask worker, bars read from the shared store."""
    grid = {"fast": [5, 10], "slow": [30, 60]}
    with dask.config.set({"temporary-directory": str(scratch)}):
        return sweep(
            "strategies.sma_cross:SmaCross", "AAPL_1min", grid, arctic_uri=uri, n_workers=1, processes=False
        )


async def physical_libraries(uri: str) -> list[str]:
    """Every library in the bucket, namespaces and all, as a second process would see them."""
    return sorted(await asyncio.to_thread(lambda: Arctic(uri).list_libraries()))


async def test_two_engines_for_two_accounts_share_one_s3_store_while_a_notebook_and_a_sweep_read_it(
    tmp_path: Path, s3_uri: str
) -> None:
    async with ArcticStore(s3_uri) as importer:  # `mats data import`: the one writer of market_data
        await write_bars(importer, "AAPL_1min", synth_bars(3_000, seed=5), source="scale-out test")

    async with account_sim("DU0000001") as sim1, account_sim("DU0000002") as sim2:
        one = await start_engine(
            sim1, tmp_path / "one", s3_uri, namespace="acct1", specs=[pulse("alpha", 10)]
        )
        try:
            two = await start_engine(
                sim2, tmp_path / "two", s3_uri, namespace="acct2", specs=[pulse("beta", 3, -1)]
            )
            try:
                swept = asyncio.create_task(asyncio.to_thread(sma_sweep, s3_uri, tmp_path / "dask"))
                seen1, seen2 = await asyncio.gather(
                    trade_and_read(one, sim1, "alpha", 101.0), trade_and_read(two, sim2, "beta", 202.0)
                )
                table = await asyncio.wait_for(swept, 60)
                with pytest.raises(NamespaceInUse) as refused:
                    await start_engine(sim1, tmp_path / "intruder", s3_uri, namespace="acct1")
                with pytest.raises(
                    AccountInUse, match=r"account DU0000001 is already traded by .* namespace 'acct1'"
                ):
                    await start_engine(sim1, tmp_path / "twin", s3_uri, namespace="acct3")
                held = await read_lease(one.store)
                still_trading = await trade_and_read(one, sim1, "alpha", 99.0)  # the refusal touched nothing
                across = ArcticStore(s3_uri, namespace="acct2")
                async with across:
                    with pytest.raises(StoreError, match="does not exist"):
                        await across.read("DU0000001", "fills")  # acct1's fills are not in acct2's namespace
                    registry2 = await across.read("general", "strategies")
                    assert await across.list_libraries(refresh=True) == [
                        "DU0000002",
                        "general",
                        "market_data",
                    ]
            finally:
                await two.stop()
        finally:
            await one.stop()
        executions1 = {f.execution.exec_id for f in sim1.control.executions()}
        executions2 = {f.execution.exec_id for f in sim2.control.executions()}
    async with ArcticStore(s3_uri, namespace="acct1") as reader:
        left = await read_lease(reader)

    # Each engine's fills are in its own namespace only, seen the same way through its API.
    assert len(executions1) == 2 and len(executions2) == 1
    assert set(seen1.fills["exec_id"]) < executions1 and set(seen2.fills["exec_id"]) == executions2
    assert set(seen1.stored.query("kind == 'fill'")["exec_id"]) == set(seen1.fills["exec_id"])
    assert set(seen2.stored.query("kind == 'fill'")["exec_id"]) == executions2
    assert set(still_trading.stored.query("kind == 'fill'")["exec_id"]) == executions1
    assert seen1.portfolio[["strategy_id", "qty"]].values.tolist() == [["alpha", 10]]
    assert seen2.portfolio[["strategy_id", "qty"]].values.tolist() == [["beta", -3]]
    assert "DU0000002" not in seen1.libraries and "DU0000001" not in seen2.libraries
    assert list(registry2["strategy_id"]) == ["beta"]
    assert await physical_libraries(s3_uri) == [  # nothing from the refused engines
        "acct1.DU0000001",
        "acct1.general",
        "acct2.DU0000002",
        "acct2.general",
        "market_data",
    ]
    # The research worker read the shared bars while both engines ran.
    assert table[["fast", "slow"]].values.tolist() == [[5, 30], [5, 60], [10, 30], [10, 60]]
    assert table["trades"].gt(0).all()
    # The intruder was told who holds the namespace; the holder kept it and released it at shutdown.
    message = str(refused.value)
    assert (
        "namespace 'acct1'" in message and "account DU0000001" in message and str(tmp_path / "one") in message
    )
    assert held is not None and held.account == "DU0000001" and held.state == "held"
    assert left is not None and (left.engine_id, left.state) == (held.engine_id, "released")
