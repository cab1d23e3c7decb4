"""The fault matrix (issue #12): every simulator fault, with strategies trading, ends with the invariants.

Each scenario runs the whole engine (ArcticDB store, journal, IB clients, Pulse strategies) against the
simulator on a paused virtual clock, injects one fault while orders are working or filling, lets the engine
catch up, and checks (a) every execution once in the folded ``{account}/fills`` with its commission,
(b) IB = Σ strategies + Discretionary or a reported break, (c) no order unknown to MATS, (d) no order
sent twice. docs/faults.md maps each fault to what IB does, what MATS does and the test below.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from live.support import wait_for_event
from mats.ib.connection import ConnectionState
from mats.model import OrderState, StrategySpec
from mats.sim import SimServer

from .desk import Desk, pulse
from .invariants import assert_invariants

AAPL = 265598


def trading_pair() -> list[StrategySpec]:
    return [pulse("trend", "AAPL", 10), pulse("meanrev", "MSFT", 5)]


async def open_positions(desk: Desk) -> None:
    """Both strategies open a position and a manual TWS trade lands in Discretionary."""
    await desk.pulse("trend", "AAPL", 100.0)
    await desk.pulse("meanrev", "MSFT", 300.0)
    desk.sim.control.place_manual_order("AAPL", "BUY", 3)
    await desk.settle()


def booked(desk: Desk) -> set[str]:
    assert desk.trading.portfolio is not None
    return {f.exec_id for f in desk.trading.portfolio.fills()}


@pytest.mark.ib_client_errors_expected  # the port refuses connections while the Gateway is down
async def test_fill_during_gateway_restart_is_recorded_once(sim: SimServer, tmp_path: Path) -> None:
    """Issue #8, test 3: the Gateway restarts in the middle of a sliced fill while resting orders fill;
    every execution is recorded exactly once with its commission, some only through the catch-up."""
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)
        resting_buy = await desk.order("trend", "AAPL", 7, limit_price=95.0)
        resting_sell = await desk.order("meanrev", "MSFT", -3, limit_price=310.0)
        sim.control.set_fill_slices(3)
        sim.control.set_fill_latency(1.0)
        sliced = await desk.order("trend", "AAPL", 30)  # one slice per virtual second
        sim.control.advance(1.0)
        await desk.until(lambda: len(booked(desk)) == 4, "the first slice booked")
        assert desk.trading.recorder is not None
        catch_ups = desk.trading.recorder.catch_ups

        await sim.control.faults.restart(down=60)
        sim.control.advance(2.0)  # the other two slices, with nobody connected
        sim.control.set_price("AAPL", 94.0)  # the resting orders fill while the Gateway is down
        sim.control.set_price("MSFT", 311.0)
        refused = desk.strategy("meanrev").place_order("MSFT", 1)  # no client: refused, never sent
        await refused
        sim.control.advance(58.0)  # the resting orders' later slices, then the Gateway is back
        made_while_down = {f.execution.exec_id for f in sim.control.executions()} - booked(desk)
        await sim.control.faults.wait_up()
        await desk.settle()

        assert refused.status is OrderState.REJECTED and "not connected" in refused.reason
        assert len(made_while_down) == 2 + 3 * 2  # two slices + the two resting orders in three slices each
        assert made_while_down <= booked(desk)
        assert desk.trading.recorder.catch_ups > catch_ups  # they came through reqExecutions on reconnect
        for handle in (resting_buy, resting_sell, sliced):  # the strategy hears it one hop after the books
            await asyncio.wait_for(handle.filled(), 10)
            assert handle.status is OrderState.FILLED, (handle.order_ref, handle.status)
        outcome = await desk.finish()
    assert_invariants(outcome)
    assert len(outcome.folded) == len(sim.control.executions()) == 3 + 3 + 3 + 3


@pytest.mark.parametrize("data_lost", [False, True], ids=["data_kept", "data_lost"])
async def test_fills_held_by_a_nightly_reset_arrive_after_it_and_new_orders_wait(
    sim: SimServer, tmp_path: Path, data_lost: bool
) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)
        resting = await desk.order("trend", "AAPL", 4, limit_price=97.0)
        assert desk.engine.hub is not None
        clients = list(desk.engine.hub.clients.values())

        sim.control.faults.reset(duration=30, data_lost=data_lost)
        await desk.until(lambda: all(c.state is ConnectionState.HELD for c in clients), "1100 everywhere")
        sim.control.set_price("AAPL", 96.0)  # fills at IB; the execution is held until the reset ends
        held = desk.strategy("meanrev").place_order("MSFT", 2)
        await held
        sim.control.advance(30)
        await desk.until(lambda: all(c.state is ConnectionState.CONNECTED for c in clients), "1102/1101")
        await desk.settle()
        assert held.status is OrderState.REJECTED and "1100" in held.reason
        await asyncio.wait_for(resting.filled(), 10)  # the strategy hears it one hop after the books
        assert resting.status is OrderState.FILLED
        outcome = await desk.finish()
    assert_invariants(outcome)
    assert len(outcome.folded) == 4


async def test_a_farm_flap_does_not_stop_trading_or_lose_fills(sim: SimServer, tmp_path: Path) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)
        assert desk.engine.hub is not None
        engine_client = desk.engine.hub.engine
        sim.control.faults.farm_flap(duration=5)
        await desk.until(lambda: bool(engine_client.stale_farms), "the farm marked stale")
        await desk.pulse("trend", "AAPL", 101.0)  # orders do not depend on market-data farms
        await desk.pulse("meanrev", "MSFT", 299.0)
        await desk.settle()
        sim.control.advance(5)
        await desk.until(lambda: not engine_client.stale_farms, "the farm back")
        outcome = await desk.finish()
    assert_invariants(outcome)
    assert len(outcome.folded) == 5


@pytest.mark.ib_client_errors_expected
async def test_a_dropped_exec_details_end_does_not_hang_the_catch_up_or_lose_a_fill(
    sim: SimServer, tmp_path: Path
) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)
        recorder = desk.trading.recorder
        assert recorder is not None
        recorder.catch_up_timeout = 1.0  # the scenario's patience; the engine's default is 10 s
        resting = await desk.order("meanrev", "MSFT", 2, limit_price=290.0)
        sim.control.faults.drop_end_marker("execDetailsEnd", times=1)  # as TWS 10.30
        await sim.control.faults.restart(down=10)
        sim.control.set_price("MSFT", 289.0)
        sim.control.advance(10)
        await sim.control.faults.wait_up()
        await desk.settle()
        await desk.until(lambda: resting.status is OrderState.FILLED, "the strategy told")
        assert recorder.catch_up_timeouts == 1
        outcome = await desk.finish()
    assert_invariants(outcome)


@pytest.mark.ib_client_errors_expected
async def test_a_late_exec_details_end_still_completes_the_catch_up(sim: SimServer, tmp_path: Path) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)
        recorder = desk.trading.recorder
        assert recorder is not None
        resting = await desk.order("trend", "AAPL", 5, limit_price=98.0)
        sim.control.faults.delay_end_marker("execDetailsEnd", seconds=3, times=1)
        await sim.control.faults.restart(down=10)
        catch_ups = recorder.catch_ups
        sim.control.set_price("AAPL", 97.0)
        sim.control.advance(10)
        await sim.control.faults.wait_up()
        await desk.until(lambda: recorder.catch_ups > catch_ups, "the catch-up to start")
        [filled_while_down] = [
            f.execution.exec_id
            for f in sim.control.executions()
            if f.execution.order_ref == resting.order_ref
        ]
        await desk.until(
            lambda: filled_while_down in booked(desk), "the fill caught up before the end marker"
        )
        sim.control.advance(3)  # the end marker, late
        await desk.settle()
        await desk.until(lambda: resting.status is OrderState.FILLED, "the strategy told")
        assert recorder.catch_up_timeouts == 0
        outcome = await desk.finish()
    assert_invariants(outcome)


async def test_late_commission_reports_are_joined_to_fills_already_flushed(
    sim: SimServer, tmp_path: Path
) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)
        sim.control.faults.delay_commission_reports(5)
        await desk.pulse("trend", "AAPL", 102.0)  # closes: its report carries realized PnL
        await desk.pulse("meanrev", "MSFT", 303.0)
        await desk.until(lambda: len(booked(desk)) == 5, "the fills, without their commissions")
        assert desk.missing() and all("commission of" in m for m in desk.missing())
        assert desk.trading.flusher is not None
        await desk.trading.flusher.wait_flushed()  # the fills reach ArcticDB before their commissions
        sim.control.advance(5)
        await desk.settle()
        outcome = await desk.finish()
    assert_invariants(outcome)
    closing = outcome.folded.loc[outcome.folded["strategy_id"] == "trend"].iloc[-1]
    assert closing["realized_pnl"] == pytest.approx(
        10 * (102.0 - 100.0) - closing["commission"]
    )  # net of its own


async def test_duplicated_executions_are_recorded_once(sim: SimServer, tmp_path: Path) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        sim.control.faults.duplicate_executions(count=4)
        await open_positions(desk)
        await desk.pulse("trend", "AAPL", 101.0)
        recorder = desk.trading.recorder
        assert recorder is not None
        await desk.until(lambda: recorder.duplicates == 4, "four duplicates seen")
        await desk.settle()
        outcome = await desk.finish()
    assert_invariants(outcome)
    assert len(outcome.folded) == 4


@pytest.mark.parametrize(
    "change", [{"price": 100.5}, {"quantity": 8}], ids=["price_corrected", "quantity_corrected"]
)
async def test_a_corrected_execution_replaces_its_original_in_fills_and_books(
    sim: SimServer, tmp_path: Path, change: dict[str, float]
) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)
        assert desk.trading.flusher is not None
        await desk.trading.flusher.wait_flushed()  # the original is in ArcticDB before its correction
        [original] = [f for f in sim.control.executions() if f.execution.order_ref.startswith("mats:trend:")]
        corrected = sim.control.faults.correct_execution(original.execution.exec_id, **change)
        await desk.until(lambda: corrected in booked(desk), "the correction booked")
        await desk.settle()
        assert desk.trading.portfolio is not None
        trend = desk.trading.portfolio.position("trend", AAPL)
        outcome = await desk.finish()
    assert_invariants(outcome)
    assert trend is not None and trend.qty == change.get("quantity", 10)
    assert corrected in set(outcome.folded["exec_id"]) and original.execution.exec_id not in set(
        outcome.folded["exec_id"]
    )


@pytest.mark.ib_client_errors_expected  # 326 while the Gateway holds the old ids
async def test_reconnecting_while_the_gateway_holds_the_old_client_ids_gets_through(
    sim: SimServer, tmp_path: Path
) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)
        resting = await desk.order("trend", "AAPL", 2, limit_price=99.0)
        hub = desk.engine.hub
        assert hub is not None
        sim.control.faults.linger_client_ids(5)
        refused = desk.engine.bus.subscribe(types={"connection"})
        await hub.pause()  # every socket closed by MATS; the Gateway keeps their ids 5 s
        sim.control.set_price("AAPL", 98.0)  # fills with nobody connected
        resuming = asyncio.ensure_future(hub.resume())
        await wait_for_event(refused, lambda e: "in use" in e.detail, timeout=15)  # 326
        sim.control.advance(5)
        await resuming
        await desk.settle()
        await desk.until(lambda: resting.status is OrderState.FILLED, "the strategy told")
        outcome = await desk.finish()
    assert_invariants(outcome)


async def test_pacing_on_leaves_no_order_unknown_or_doubled(sim: SimServer, tmp_path: Path) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)
        sim.control.faults.set_pacing(True)
        handles = [await desk.order("trend", "AAPL", 1, limit_price=50.0 + i) for i in range(30)]
        handles += [await desk.order("meanrev", "MSFT", -1, limit_price=400.0 + i) for i in range(30)]
        await desk.settle()
        for handle in handles[::7]:
            assert await desk.cancel(handle.order_ref)
        await desk.settle()
        outcome = await desk.finish()
    assert_invariants(outcome)
    assert sum(1 for o in outcome.sim_orders if o.ticket.order_ref) >= 60 + 2


@pytest.mark.parametrize("fault", ["split", "set_position"])
async def test_a_position_change_without_an_execution_is_a_locked_break(
    sim: SimServer, tmp_path: Path, fault: str
) -> None:
    async with Desk(sim, tmp_path, trading_pair()) as desk:
        await open_positions(desk)  # AAPL: trend 10 + Discretionary 3
        if fault == "split":
            sim.control.faults.split("AAPL", 2.0)
        else:
            sim.control.faults.set_position("AAPL", 20)
        desk.expected_breaks[AAPL] = 26.0 - 13.0 if fault == "split" else 20.0 - 13.0
        await desk.settle()
        outcome = await desk.finish()
    assert_invariants(outcome)
    [row] = [r for r in outcome.reconciliation if r.con_id == AAPL]
    assert row.locked and row.break_qty == desk.expected_breaks[AAPL]
