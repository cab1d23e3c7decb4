"""The issue's scenario through the SDK: register, start, a fill on ``stream()``, read back as DataFrames
whose price, qty, commission and strategy_id equal the simulator's execution."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pandas as pd
import pytest

import mats.sdk
from mats.model import Bar
from mats.sdk import Event, EventStream

from .conftest import TOKEN, Running

# Half-day bars: the bars under test are the ones the test pushes, not a minute boundary's.
PULSE = {"strategy_id": "pulse", "cls": "strategies.pulse:Pulse", "symbols": ["AAPL"], "bar_size": "12h"}


async def next_matching(events: EventStream, match: type[Event] | None = None, **keys: object) -> Event:
    """The next event whose ``data`` has all of ``keys`` (a value of ``...`` only needs the key)."""
    async with asyncio.timeout(10):
        async for event in events:
            if all(k in event.data and (v is ... or event.data[k] == v) for k, v in keys.items()):
                return event
    raise AssertionError("the stream ended")


async def test_register_start_fill_on_the_stream_and_read_back_as_frames(running: Running) -> None:
    async with mats.sdk.connect(running.url, TOKEN) as m:
        assert (await m.health())["status"] == "ok"
        registered = await m.register(PULSE, params={"qty": 7, "every": 1})
        assert registered["status"] == "registered"
        assert (await m.start("pulse"))["status"] == "running"
        strategies = await m.strategies()
        assert strategies.loc["pulse", "status"] == "running"
        assert strategies.loc["pulse", "params"] == {"qty": 7, "every": 1}

        # From the current seq on: whatever happens before the socket is up is replayed to it.
        events = m.stream(types={"fill"}, since=(await m.health())["event_seq"])
        running.sim.control.set_price("AAPL", 187.25)
        bar = Bar("AAPL", datetime.now(UTC), 187.25, 187.25, 187.25, 187.25)
        await running.trading.actors["pulse"].tell(bar)
        filled = await next_matching(events, fill=...)
        charged = await next_matching(events, commission=..., exec_id=filled.data["fill"]["exec_id"])
        await events.aclose()

        [execution] = running.sim.control.executions()
        assert filled.type == "fill" and filled.data["fill"]["strategy_id"] == "pulse"
        assert charged.data["commission"] == pytest.approx(execution.commission.commission)

        fills = await m.fills()
        assert isinstance(fills.index, pd.DatetimeIndex) and str(fills.index.tz) == "UTC"
        assert list(fills.columns[:8]) == [
            "exec_id", "strategy_id", "symbol", "side", "qty", "price", "commission", "currency",
        ]  # fmt: skip
        [row] = fills.itertuples()
        assert row.exec_id == execution.execution.exec_id
        assert (row.strategy_id, row.symbol, row.side) == ("pulse", "AAPL", "BUY")
        assert row.qty == execution.execution.shares == 7
        assert row.price == execution.execution.price == 187.25
        assert row.commission == pytest.approx(execution.commission.commission)
        assert (await m.fills("someone_else")).empty

        orders = await m.orders()
        order = orders.loc[str(row.order_ref)]
        assert (order["state"], order["strategy_id"]) == ("Filled", "pulse")

        portfolio = await m.portfolio()
        mine = portfolio[portfolio.strategy_id == "pulse"]
        assert mine.iloc[0]["qty"] == 7 and mine.iloc[0]["avg_cost"] == pytest.approx(187.25)
        assert portfolio.attrs["account"] == "DU0000001" and portfolio.attrs["base_currency"] == "USD"
        assert portfolio.attrs["total_equity"] > 0

        reconciliation = await m.reconcile()
        aapl = reconciliation[reconciliation.symbol == "AAPL"].iloc[0]
        assert (aapl.ib_qty, aapl.attributed_qty, aapl.break_qty) == (7, 7, 0)
        assert isinstance(reconciliation.attrs["as_of"], pd.Timestamp)

        curve = await m.equity()
        assert isinstance(curve, pd.Series) and "daily_pnl" in curve.attrs

        with pytest.raises(mats.sdk.MatsApiError) as busy:
            await m.update("pulse", params={"qty": 9, "every": 1})
        assert busy.value.status == 409 and "stop it" in busy.value.message
        killed = await m.kill_switch(strategy_id="pulse", reason="sdk test")
        assert killed["engaged"] is True and killed["strategy_id"] == "pulse"
        assert (await m.stop("pulse"))["status"] != "running"
        updated = await m.update("pulse", params={"qty": 9, "every": 1})
        assert updated["params"] == {"qty": 9, "every": 1}


async def test_arctic_reads_come_back_as_frames(running: Running) -> None:
    async with mats.sdk.connect(running.url, TOKEN) as m:
        await m.register(PULSE, params={"qty": 2, "every": 1})
        await m.start("pulse")
        events = m.stream(types={"fill"}, since=(await m.health())["event_seq"])
        running.sim.control.set_price("AAPL", 101.5)
        await running.trading.actors["pulse"].tell(Bar("AAPL", datetime.now(UTC), 101.5, 101.5, 101.5, 101.5))
        await next_matching(events, commission=...)
        await events.aclose()
        assert running.trading.flusher is not None
        await running.trading.flusher.wait_flushed(timeout=20)

        assert {"DU0000001", "general"} <= set(await m.libraries())
        assert "fills" in await m.symbols("DU0000001")
        stored = await m.read("DU0000001", "fills", tail=10)
        assert isinstance(stored.index, pd.DatetimeIndex)
        fill = stored[stored.kind == "fill"].iloc[0]
        assert (fill.qty, fill.price, fill.strategy_id) == (2, 101.5, "pulse")
        assert stored.attrs["symbol"] == "fills"
        with pytest.raises(mats.sdk.MatsApiError) as missing:
            await m.read("DU0000001", "nope")
        assert missing.value.status == 404
