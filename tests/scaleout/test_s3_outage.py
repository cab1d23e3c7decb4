"""An S3 outage seen from a running engine: it keeps trading and acknowledging fills from its journal,
says its storage is degraded, and flushes what it kept once S3 answers again (docs/operations.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from live.support import wait_for_event
from live.test_live_strategies import bar
from mats.messages import AlertRaised, CommissionCharged
from mats.sim import SimServer
from moto_s3 import MotoServer

from .conftest import start_engine
from .test_scenarios_on_s3 import AAPL, pulse, stored_fills


def storage_alert(degraded: bool) -> object:
    return lambda e: (
        isinstance(e, AlertRaised) and e.kind == "degraded_storage" and e.data.get("degraded") is degraded
    )


async def test_an_engine_keeps_trading_through_an_s3_outage_and_flushes_its_fills_when_s3_returns(
    sim: SimServer, tmp_path: Path, moto_server: MotoServer, s3_uri: str
) -> None:
    running = await start_engine(sim, tmp_path, s3_uri, namespace="acct1", specs=[pulse("steady", 5)])
    events = running.engine.bus.subscribe(types={"fill", "alert"})
    alerts = running.engine.bus.subscribe(types={"alert"})
    try:
        sim.control.set_price("AAPL", 120.0)
        moto_server.pause(resume_within=45)  # S3 hangs: every call waits, nothing answers
        try:
            await running.trading.actors["steady"].tell(bar("AAPL", 0, 120.0))
            await wait_for_event(events, lambda e: isinstance(e, CommissionCharged))
            assert running.trading.portfolio is not None
            during = running.trading.portfolio.position("steady", AAPL)
            await wait_for_event(alerts, storage_alert(True), timeout=15)
            assert running.trading.journal is not None
            journaled = await running.trading.journal.current_fills()
        finally:
            moto_server.resume()
        await wait_for_event(alerts, storage_alert(False), timeout=60)
        stored = await asyncio.wait_for(stored_fills(running), 60)
    finally:
        await running.stop()
    [execution] = sim.control.executions()
    assert during is not None and (during.qty, during.avg_cost) == (5.0, 120.0)  # traded while S3 was down
    assert [f.exec_id for f in journaled] == [execution.execution.exec_id]  # kept by the journal
    assert stored["exec_id"].tolist() == [execution.execution.exec_id]  # then in S3, once
