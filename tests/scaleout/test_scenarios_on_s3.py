"""The live scenarios with the store on S3 (a moto server) instead of LMDB: attribution, Discretionary and
the registry behave exactly as on LMDB, and every fill lands in ``{account}/fills`` in the bucket.

They mirror tests/live (whose ``run_engine`` runs without a store, so parametrizing its URI would test
nothing) and tests/api/test_storage_routes, and add what only a shared store can show: every execution in
the bucket with its strategy, and a restart on another machine's empty data dir."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from live.support import wait_for_event
from live.test_live_strategies import bar, open_both_then_close_the_long_one
from mats.messages import CommissionCharged, OrderFilled
from mats.model import DISCRETIONARY, StrategySpec
from mats.sdk import connect
from mats.sim import SimServer
from mats.store.reader import FillsReader

from .conftest import TOKEN, RunningEngine, start_engine

AAPL = 265598


def pulse(sid: str, qty: float, direction: int = 1) -> StrategySpec:
    params = {"qty": qty, "every": 1, "direction": direction}
    return StrategySpec(sid, "strategies.pulse:Pulse", ["AAPL"], params, autostart=True)


async def stored_fills(running: RunningEngine, account: str = "DU0000001") -> pd.DataFrame:
    """What is in the bucket for the account, read back through the engine's own store."""
    assert running.trading.flusher is not None
    await running.trading.flusher.wait_flushed(timeout=20)
    frame = await running.store.read(account, "fills")
    return frame[frame["kind"] == "fill"]


async def test_two_strategies_in_opposite_directions_on_one_symbol_are_attributed_exactly_in_s3(
    sim: SimServer, tmp_path: Path, s3_uri: str
) -> None:
    running = await start_engine(sim, tmp_path, s3_uri, specs=[pulse("longer", 10), pulse("shorter", 4, -1)])
    trading = running.trading
    try:
        await open_both_then_close_the_long_one(running.engine, trading, sim)
        assert trading.portfolio is not None
        longer, shorter = (
            trading.portfolio.position("longer", AAPL),
            trading.portfolio.position("shorter", AAPL),
        )
        stored = await stored_fills(running)
        commissions = (await running.store.read("DU0000001", "fills")).query("kind == 'commission'")
    finally:
        await running.stop()

    assert longer is not None and shorter is not None
    assert (longer.qty, longer.realized_pnl) == (0.0, pytest.approx(10 * (103.5 - 101.0)))
    assert (shorter.qty, shorter.avg_cost) == (-4.0, 101.0)
    executed = {f.execution.exec_id: f for f in sim.control.executions()}
    assert sorted(stored["exec_id"]) == sorted(executed)  # every execution in S3, once
    for row in stored.itertuples():
        assert row.strategy_id == executed[row.exec_id].execution.order_ref.split(":")[1]
    signed = stored["qty"].where(stored["side"] == "BUY", -stored["qty"])
    assert signed.groupby(stored["strategy_id"]).sum().to_dict() == {"longer": 0.0, "shorter": -4.0}
    assert commissions["commission"].sum() == pytest.approx(
        sum(f.commission.commission for f in executed.values())
    )


async def test_a_manual_trade_lands_in_discretionary_in_s3_and_leaves_the_strategies_alone(
    sim: SimServer, tmp_path: Path, s3_uri: str
) -> None:
    running = await start_engine(sim, tmp_path, s3_uri, specs=[pulse("one", 10), pulse("two", 4)])
    trading = running.trading
    events = running.engine.bus.subscribe(types={"fill"})
    try:
        sim.control.set_price("AAPL", 150.0)
        for actor in trading.actors.values():
            await actor.tell(bar("AAPL", 0, 150.0))
        for _ in range(2):
            await wait_for_event(events, lambda e: isinstance(e, CommissionCharged))
        sim.control.set_price("AAPL", 151.0)
        sim.control.place_manual_order("AAPL", "BUY", 7)  # typed into TWS by hand
        manual = await wait_for_event(events, lambda e: isinstance(e, OrderFilled))
        [row] = await trading.reconcile("test")
        stored = await stored_fills(running)
        async with connect(running.url, TOKEN) as m:  # a notebook reading the same account
            portfolio = await m.portfolio()
    finally:
        await running.stop()
    assert manual.fill.strategy_id == DISCRETIONARY
    assert (row.ib_qty, row.attributed_qty, row.discretionary_qty, row.break_qty) == (21, 14, 7, 0)
    assert stored.set_index("exec_id").loc[manual.fill.exec_id, "strategy_id"] == DISCRETIONARY
    assert sorted(stored["strategy_id"]) == sorted([DISCRETIONARY, "one", "two"])
    held = portfolio.set_index("strategy_id")["qty"].to_dict()
    assert held == {DISCRETIONARY: 7, "one": 10, "two": 4}


async def test_fills_reach_s3_and_the_registry_survives_a_restart_on_a_fresh_data_dir(
    sim: SimServer, tmp_path: Path, s3_uri: str
) -> None:
    running = await start_engine(sim, tmp_path / "first", s3_uri, namespace="acct1")
    events = running.engine.bus.subscribe(types={"fill"})
    try:
        async with connect(running.url, TOKEN) as m:
            await m.register(
                strategy_id="keeper",
                cls="strategies.pulse:Pulse",
                symbols=["AAPL"],
                params={"qty": 3, "every": 1},
            )
            await m.start("keeper")
        sim.control.set_price("AAPL", 212.5)
        await running.trading.actors["keeper"].tell(bar("AAPL", 0, 212.5))
        await wait_for_event(events, lambda e: isinstance(e, CommissionCharged))
        stored = await stored_fills(running)
    finally:
        await running.stop()
    [execution] = sim.control.executions()
    assert stored[["exec_id", "strategy_id", "qty", "price"]].values.tolist() == [
        [execution.execution.exec_id, "keeper", 3, 212.5]
    ]

    # Another machine: a new data dir (no journal), the same bucket and namespace. The registry comes back
    # from S3, today's fill from IB's execution catch-up; the store still folds to one row per execution.
    running = await start_engine(sim, tmp_path / "second", s3_uri, namespace="acct1")
    try:
        async with connect(running.url, TOKEN) as m:
            strategies = await m.strategies()
            portfolio = await m.portfolio()
        assert running.trading.flusher is not None
        await running.trading.flusher.wait_flushed(timeout=20)
        reread = await FillsReader(running.store, "DU0000001").folded()
    finally:
        await running.stop()
    assert list(strategies.index) == ["keeper"]
    restored = strategies.loc["keeper"]
    assert (restored["params"], restored["client_id"]) == ({"qty": 3, "every": 1}, 1)
    assert portfolio[["strategy_id", "qty", "avg_cost"]].values.tolist() == [["keeper", 3, 212.5]]
    assert [r["break_qty"] for r in portfolio.attrs["reconciliation"]] == [0]
    assert list(reread["exec_id"]) == [execution.execution.exec_id]
