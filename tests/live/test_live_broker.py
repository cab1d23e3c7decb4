"""The live broker a strategy talks to: what it keeps of its orders over a long day."""

from __future__ import annotations

from pathlib import Path

from mats.sim import SimServer

from .test_live_strategies import run_engine, stop_engine
from .test_risk_limits import place, position_booked, quiet, strategy_of


async def test_finished_orders_are_forgotten_by_the_broker_but_their_handles_still_answer(
    sim: SimServer, tmp_path: Path
) -> None:
    """A long day must not grow the broker with every order, nor make ``open_orders`` walk them all."""
    engine, trading, task = await run_engine(sim, tmp_path, [quiet("busy", ["AAPL"])])
    positions = engine.bus.subscribe(types={"position"})
    try:
        sim.control.set_price("AAPL", 100.0)
        strategy = strategy_of(trading, "busy")
        filled = await place(strategy, "AAPL", 1)
        resting = await place(strategy, "AAPL", 1, limit_price=90.0)
        await filled.filled()
        await position_booked(positions, "busy", 1)
        broker = trading.broker
        assert broker is not None
        assert broker.open_orders("busy") == [resting]
        assert broker.forget_finished(now=float("inf")) == 1  # the filled one; the resting one stays
        assert await filled.filled() is filled and await filled is filled  # still answers, at once
        assert broker.open_orders("busy") == [resting]
    finally:
        await stop_engine(engine, task)
