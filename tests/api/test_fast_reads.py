"""The polled reads over the embedded uvicorn: the same bytes as Litestar's route, fresh after a fill,
refused without the token; and the metrics an operator watches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from live.support import free_port, wait_for_event
from mats.api.auth import ApiToken
from mats.api.encoded import EncodedEnvelopes, EncodedReads
from mats.api.loopshare import LoopShare
from mats.api.server import ApiServer
from mats.engine import Engine
from mats.messages import AlertRaised, CommissionCharged
from mats.model import Bar
from mats.sim import SimServer

from .conftest import TOKEN, trading_engine

PULSE = {"strategy_id": "pulse_aapl", "cls": "strategies.pulse:Pulse", "symbols": ["AAPL"],
         "params": {"qty": 7, "every": 1}, "bar_size": "1min"}  # fmt: skip


Served = tuple[httpx.AsyncClient, ApiServer, Engine, SimServer]


@pytest.fixture
async def trading_server(
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, ApiServer, Engine, SimServer]]:
    async with SimServer(port=free_port(), price_interval=0, account_push_interval=0.01) as sim:
        server = ApiServer(ApiToken(TOKEN), host="127.0.0.1", port=0, web_dist=None)
        engine = trading_engine(sim, tmp_path, server)
        running = asyncio.create_task(engine.run(handle_signals=False))
        await asyncio.wait_for(engine.ready.wait(), 20)
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as api:
            try:
                yield api, server, engine, sim
            finally:
                engine.request_shutdown("test over")
                await asyncio.wait_for(running, 20)


async def test_a_polled_portfolio_is_the_same_bytes_until_a_fill_changes_it(
    trading_server: Served,
) -> None:
    api, server, engine, sim = trading_server
    assert server.ctx is not None and server.fast_reads is not None and engine.trading is not None
    server.ctx.reads.max_age = 60.0  # only events invalidate here: the test must not race the 50 ms age
    assert (await api.post("/api/strategies", json=PULSE)).status_code == 201
    assert (await api.post("/api/strategies/pulse_aapl/start")).status_code == 201
    charges = engine.bus.subscribe(types={"fill"})

    built = await api.get("/api/portfolio")  # Litestar's route builds and encodes the body
    served_before = server.fast_reads.served
    polled = await api.get("/api/portfolio")  # the fast path answers with those bytes
    assert server.fast_reads.served == served_before + 1
    assert polled.content == built.content and polled.json()["positions"] == []
    assert polled.headers["content-type"] == built.headers["content-type"] == "application/json"
    refused = await api.get("/api/portfolio", headers={"Authorization": "Bearer wrong-token-0123456789"})
    assert refused.status_code == 401 and server.fast_reads.served == served_before + 1

    sim.control.set_price("AAPL", 187.25)
    await engine.trading.actors["pulse_aapl"].tell(Bar("AAPL", datetime.now(UTC), *[187.25] * 4))
    await wait_for_event(charges, lambda e: isinstance(e, CommissionCharged))
    [position] = (await api.get("/api/portfolio")).json()["positions"]
    assert (position["strategy_id"], position["qty"], position["avg_cost"]) == ("pulse_aapl", 7, 187.25)
    [fill] = (await api.get("/api/fills", params={"limit": 5})).json()
    assert (fill["qty"], fill["price"]) == (7, 187.25)
    assert (await api.get("/api/fills", params={"limit": "many"})).status_code == 400

    metrics = (await api.get("/api/metrics")).json()
    assert metrics["rss_bytes"] > 10_000_000 and metrics["event_seq"] == engine.bus.last_seq
    actors = {a["name"]: a for a in metrics["actors"]}
    assert {"portfolio", "trades", "recorder", "strategy:pulse_aapl"} <= set(actors)
    assert actors["strategy:pulse_aapl"]["handled"] >= 1 and actors["portfolio"]["data_depth"] == 0
    assert metrics["read_hits"] >= 1
    kept = {k["name"]: k for k in metrics["kept"]}  # how full each bound on what is kept in memory is
    assert kept["fills"] == {"name": "fills", "count": 1, "bound": engine.trading.portfolio.keep_fills}
    assert kept["finished_orders"]["count"] == 1 and kept["finished_orders"]["bound"] == 10_000
    assert kept["fill_revisions"]["count"] == 1 and kept["event_history"]["count"] == metrics["event_seq"]
    assert set(kept) == {"fills", "finished_orders", "finished_refs", "fill_revisions", "event_history"}
    assert (await api.get("/api/metrics", headers={"Authorization": ""})).status_code == 401


async def test_a_read_older_than_its_max_age_is_rebuilt_even_without_events(engine: Engine) -> None:
    reads = EncodedReads(engine.bus, max_age=0.0)
    prices = iter([1.0, 2.0])
    assert reads.get("quote", lambda: {"price": next(prices)}) == b'{"price":1.0}'
    assert reads.get("quote", lambda: {"price": next(prices)}) == b'{"price":2.0}'
    assert reads.builds == 2 and reads.hits == 0


async def test_an_event_is_encoded_once_for_every_stream_client(engine: Engine) -> None:
    envelopes = EncodedEnvelopes()
    envelope = engine.bus.publish(AlertRaised(kind="test", message="once"))
    first, second = envelopes.text(envelope), envelopes.text(envelope)
    assert first is second and '"message":"once"' in first and f'"seq":{envelope.seq}' in first


async def test_requests_beyond_the_loop_share_wait_their_turn_first_come_first_served() -> None:
    share = LoopShare(per_iteration=2)
    served: list[int] = []

    async def request(n: int) -> None:
        await share.turn()
        served.append(n)

    await asyncio.gather(*(request(n) for n in range(6)))
    assert served == [0, 1, 2, 3, 4, 5]
    assert share.waited == 4 and share.waiting == 0  # two went at once, four waited for later iterations
