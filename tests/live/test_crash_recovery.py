"""The engine SIGKILLed at named crash points while trading, then restarted on the same data directory:
no fill lost or doubled, positions and orders rebuilt, no order sent twice to the simulator."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import websockets

from crashes.support import PULSE_SETTINGS as SETTINGS
from crashes.support import api, start_engine

from .support import stopped_sim


async def next_fill(url: str, token: str) -> dict[str, Any]:
    """The engine's first fill event, from its own stream (replayed from its history if already past)."""
    ws_url = url.replace("http://", "ws://") + "/api/stream?since=0"  # from the start: it may be past
    async with websockets.connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        async with asyncio.timeout(20):
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "fill":
                    return dict(message["data"])


@pytest.mark.ib_client_errors_expected
@pytest.mark.timeout(180)
@pytest.mark.parametrize("crash_at", ["after_send_before_journal", "mid_flush", "mid_reconcile@2"])
async def test_engine_killed_at_a_crash_point_recovers_every_fill_exactly_once(
    tmp_path: Path, crash_at: str
) -> None:
    async with stopped_sim() as sim:
        sim.control.set_price("AAPL", 180.0)
        config = tmp_path / "mats.toml"
        config.write_text(SETTINGS.format(data=tmp_path / "data", port=sim.port))

        engine, url, token = await start_engine(config, crash_at)
        sim.control.advance(6)  # one 5-second bar: the pulse buys 5 at the market
        if crash_at.startswith("mid_reconcile"):
            await next_fill(url, token)
            with pytest.raises(OSError):
                await api(url, token, "/api/portfolio/reconcile", method="POST")  # dies mid-request
        killed = await asyncio.wait_for(engine.wait(), 60)
        assert killed == -9, f"the engine was not killed at {crash_at} (exit {killed})"
        executions = sim.control.executions()
        assert len(executions) == 1

        engine, url, token = await start_engine(config, None)  # restart on the same journal and store
        try:
            fills = await api(url, token, "/api/fills")
            portfolio = await api(url, token, "/api/portfolio")
            orders = await api(url, token, "/api/orders")
            # Start-up flushes what the crash left in the journal before the engine reports ready.
            stored = await api(url, token, "/api/arctic/libraries/DU0000001/symbols/fills?tail=100")
        finally:
            engine.send_signal(2)
            await asyncio.wait_for(engine.wait(), 30)

    [execution] = executions
    assert [f["exec_id"] for f in fills] == [execution.execution.exec_id]  # recorded once, not lost
    assert fills[0]["commission"] == pytest.approx(execution.commission.commission)
    [position] = portfolio["positions"]
    assert (position["strategy_id"], position["qty"], position["avg_cost"]) == (
        "pulse_aapl",
        5,
        execution.execution.price,
    )
    assert [o["state"] for o in orders] == ["Filled"]
    assert sum(1 for r in stored["rows"] if r["kind"] == "fill") == 1  # in ArcticDB exactly once
    assert len(sim.control.orders()) == 1  # no order was sent twice
