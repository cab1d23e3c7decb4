"""Requests MATS fans out stay within IB's pacing: the simulator enforces it (errors 100, 162 and 420) and
``tests/conftest.py`` fails any test on an ib_async client error, so a violation cannot pass unnoticed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ib_async import Contract, ContractDetails, Stock

from live.support import free_port
from live.test_live_strategies import run_engine, stop_engine
from mats.model import StrategySpec
from mats.sim import SimServer

SYMBOLS = ["AAPL", "MSFT", "SPY", "EUR.USD"]


def paced_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """IB's pacing refusals as ib_async logs them for any client: 100 (messages), 162 (historical),
    420 (real-time bars)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith(("Error 100,", "Error 162,", "Error 420,"))
    ]


@pytest.fixture
async def paced_sim() -> AsyncIterator[SimServer]:
    async with SimServer(port=free_port(), price_interval=0, account_push_interval=0.25) as server:
        server.control.faults.set_pacing(True)
        yield server


@pytest.mark.timeout(120)
async def test_forty_strategies_started_at_once_are_never_refused_for_pacing(
    paced_sim: SimServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine, trading, task = await run_engine(paced_sim, tmp_path, [])
    assert engine.hub is not None and engine.hub.engine.ib is not None
    ib = engine.hub.engine.ib
    asked: list[str] = []
    ask_ib = ib.reqContractDetailsAsync

    async def counted(contract: Contract) -> list[ContractDetails]:
        asked.append(contract.symbol)
        return await ask_ib(contract)

    ib.reqContractDetailsAsync = counted  # type: ignore[method-assign]
    try:
        for n in range(40):
            trading.register(
                StrategySpec(
                    f"s{n:02d}", "strategies.pulse:Pulse", [SYMBOLS[n % len(SYMBOLS)]], {"every": 1000}
                )
            )
        # all at once, as the API or a restart can: qualification, client connections, bar subscriptions
        started = await asyncio.wait_for(
            asyncio.gather(*(trading.start_strategy(f"s{n:02d}") for n in range(40))), 90
        )
        assert all(actor.running for actor in started)
        assert len(asked) == len(SYMBOLS)  # each instrument qualified once, not once per strategy
        assert [trading.status[f"s{n:02d}"][0] for n in range(40)] == ["running"] * 40
        assert engine.hub.allocator.connections <= 32  # the Gateway's limit, clients pooled beyond it
        for client in engine.hub.clients.values():
            assert client.connected, f"client {client.client_id} is not connected: {client.last_error}"
    finally:
        await stop_engine(engine, task)
    assert paced_errors(caplog) == []  # every client's errors, including those the starts connected


@pytest.mark.timeout(60)
async def test_warm_ups_for_one_contract_are_spread_out_instead_of_refused(
    paced_sim: SimServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine, _trading, task = await run_engine(paced_sim, tmp_path, [])
    assert engine.hub is not None and engine.hub.engine.ib is not None
    aapl = Stock("AAPL", "SMART", "USD")
    [aapl] = await engine.hub.engine.ib.qualifyContractsAsync(aapl)
    try:
        began = time.monotonic()
        # seven strategies warming up on AAPL at once: IB refuses a sixth request for a contract within 2 s
        results = await asyncio.gather(
            *(engine.hub.historical_bars(aapl, duration=f"{n + 1} D", bar_size="1 min") for n in range(7))
        )
        took = time.monotonic() - began
    finally:
        await stop_engine(engine, task)
    assert [len(bars) > 0 for bars in results] == [True] * 7
    assert paced_errors(caplog) == []  # no 162 "pacing violation"
    assert took >= 2.0  # the sixth and seventh waited for the first ones to age out of the 2-second window
