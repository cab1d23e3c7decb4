"""IBHub against the simulator: roles connect, a Gateway restart is survived, 326 is waited out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from ib_async import IB

from live.support import free_port
from live.support import wait_for_event as next_event
from mats.actors import EventBus, Subscription
from mats.config import IBSettings
from mats.ib import Backoff, ConnectionState, IBHub
from mats.messages import ConnectionChanged
from mats.sim import SimServer

FAST = Backoff(initial=0.05, maximum=0.2, client_id_in_use=0.1)


async def connections(sub: Subscription, client_ids: set[int], connected: bool, timeout: float = 10) -> None:
    """Wait until every one of ``client_ids`` has reported ``connected``, in any order."""
    waiting = set(client_ids)
    async with asyncio.timeout(timeout):
        while waiting:
            event = (await sub.get()).data
            if isinstance(event, ConnectionChanged) and event.connected is connected:
                waiting.discard(event.client_id)


def connection(client_id: int, connected: bool) -> Callable[[Any], bool]:
    return lambda e: (
        isinstance(e, ConnectionChanged) and e.client_id == client_id and e.connected is connected
    )


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(port=free_port(), price_interval=0) as server:
        yield server


@pytest.mark.ib_client_errors_expected
async def test_engine_recorder_and_strategy_clients_reconnect_after_a_gateway_restart(sim: SimServer) -> None:
    bus = EventBus()
    events = bus.subscribe(types={"connection"})
    hub = IBHub(IBSettings(port=sim.port, connect_timeout=2.0), bus=bus, backoff=FAST)
    await hub.start()
    try:
        assert hub.engine.state is ConnectionState.CONNECTED and hub.recorder.client_id == 99
        strategy_client = await hub.client_for("sma_aapl")
        assert strategy_client.client_id == 1 and strategy_client.connected
        assert hub.recorder.ib is not None and hub.recorder.ib.managedAccounts() == ["DU0000001"]

        await sim.stop()  # the Gateway goes away: every socket closes
        await connections(events, {0, 99, 1}, connected=False)
        assert not hub.engine.connected
        await sim.start()  # and comes back on the same port
        await connections(events, {0, 99, 1}, connected=True)
        assert [c.connects for c in (hub.engine, hub.recorder, strategy_client)] == [2, 2, 2]
    finally:
        await hub.stop()
    assert all(c.state is ConnectionState.STOPPED for c in hub.clients.values())


@pytest.mark.ib_client_errors_expected
async def test_a_client_id_still_held_by_the_gateway_is_retried_until_it_is_free(sim: SimServer) -> None:
    squatter = IB()
    await squatter.connectAsync("127.0.0.1", sim.port, clientId=7, timeout=2)
    bus = EventBus()
    events = bus.subscribe(types={"connection"})
    hub = IBHub(IBSettings(port=sim.port, connect_timeout=0.5), bus=bus, backoff=FAST)
    await hub.start()
    try:
        waiting = asyncio.create_task(hub.client_for("late", preferred=7))
        refused = await next_event(events, lambda e: isinstance(e, ConnectionChanged) and e.client_id == 7)
        assert (refused.connected, refused.detail) == (False, "clientId in use")
        assert not waiting.done()
        squatter.disconnect()  # the old socket closes: the id is free again
        client = await asyncio.wait_for(waiting, timeout=10)
        await next_event(events, connection(7, True))
        assert client.connects == 1
        assert client.client_id == 7 and client.connected
    finally:
        await hub.stop()
