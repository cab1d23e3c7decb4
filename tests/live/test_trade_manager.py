"""TradeManager against the simulator: orders journaled first, then every state change folded in."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from mats.actors import EventBus, Subscription, Supervisor
from mats.actors.trades import OrderReply, TradeManager
from mats.ib import IBHub
from mats.ib.contracts import IBInstrumentResolver
from mats.messages import CancelOrder, ModifyOrder, OrderStatusChanged, PlaceOrder
from mats.model import OrderRef, OrderRequest, OrderState, OrderStatus, OrderType, StrategyId
from mats.sim import SimServer
from mats.store.journal import Journal

from .conftest import wait_for_event


async def start_trading(hub: IBHub, journal: Journal, bus: EventBus, supervisor: Supervisor) -> TradeManager:
    await hub.start()
    assert hub.engine.ib is not None
    instruments = IBInstrumentResolver(hub.engine.ib)
    for spec in ("AAPL", "MSFT"):
        await instruments.qualify(spec)
    return await supervisor.spawn(TradeManager(hub, journal, instruments, bus=bus))  # type: ignore[return-value]


@asynccontextmanager
async def trading(
    hub: IBHub, journal: Journal, bus: EventBus
) -> AsyncIterator[tuple[TradeManager, Subscription]]:
    """A supervised TradeManager on the hub, and the bus's order events from before it started."""
    orders = bus.subscribe(types={"order"})
    async with Supervisor() as supervisor:
        yield await start_trading(hub, journal, bus, supervisor), orders


def request(manager: TradeManager, strategy: str, symbol: str, qty: float, **kwargs: Any) -> OrderRequest:
    instrument = manager.instruments.resolve(symbol)
    return OrderRequest(StrategyId(strategy), instrument.key, qty, con_id=instrument.con_id, **kwargs)


async def place(manager: TradeManager, ref: str, qty: float, symbol: str = "AAPL") -> OrderReply:
    """Strategy ``s1``'s order, as its LiveBroker sends it."""
    reply: OrderReply = await manager.ask(
        PlaceOrder(request=request(manager, "s1", symbol, qty), order_ref=ref)
    )
    return reply


async def place_until_done(manager: TradeManager, orders: Subscription, ref: str, qty: float) -> None:
    await place(manager, ref, qty)
    await wait_for_event(orders, lambda e: e.status.order_ref == ref and e.status.state.is_done)


def final(status: str) -> Any:
    return lambda e: isinstance(e, OrderStatusChanged) and e.status.state.value == status


async def test_partial_fills_modify_cancel_and_reject_match_the_simulator(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    async with trading(hub, journal, bus) as (manager, orders):
        sim.control.set_price("AAPL", 200.0)
        sim.control.set_fill_slices(4)

        reply = await place(manager, "mats:s1:A", 100)
        assert reply.accepted and reply.status.state is OrderState.PENDING
        filled = await wait_for_event(orders, final("Filled"))
        assert (filled.status.filled, filled.status.remaining, filled.status.avg_fill_price) == (
            100,
            0,
            200.0,
        )
        assert filled.status.perm_id == sim.control.executions()[0].execution.perm_id

        limit = request(manager, "s2", "MSFT", -50, order_type=OrderType.LIMIT, limit_price=450.0)
        sim.control.set_price("MSFT", 400.0)
        await manager.ask(PlaceOrder(request=limit, order_ref="mats:s2:B"))
        await wait_for_event(
            orders, lambda e: e.status.order_ref == "mats:s2:B" and e.status.state is OrderState.SUBMITTED
        )
        modified = await manager.ask(ModifyOrder(order_ref="mats:s2:B", qty=-40, limit_price=455.0))
        assert modified.accepted
        owner = manager.orders["mats:s2:B"].client
        assert owner is not None and owner.ib is not None
        async with asyncio.timeout(5):
            while sim.control.open_orders()[0].ticket.total_quantity != 40:
                await owner.ib.updateEvent  # each message the owner's client processes
        assert sim.control.open_orders()[0].ticket.lmt_price == 455.0
        cancelled = await manager.ask(CancelOrder(order_ref="mats:s2:B"))
        assert cancelled.accepted
        done = await wait_for_event(orders, final("Cancelled"))
        assert (done.status.order_ref, done.status.filled) == ("mats:s2:B", 0)

        sim.control.reject_next_order("no shares to short")
        await manager.ask(PlaceOrder(request=request(manager, "s3", "AAPL", -10), order_ref="mats:s3:C"))
        rejected = await wait_for_event(orders, final("Rejected"))
        assert rejected.status.order_ref == "mats:s3:C" and "no shares to short" in rejected.status.reason

    journaled = {o.order_ref: o for o in await journal.current_orders()}
    assert journaled["mats:s1:A"].state is OrderState.FILLED and journaled["mats:s1:A"].filled == 100
    assert journaled["mats:s2:B"].state is OrderState.CANCELLED
    assert journaled["mats:s3:C"].state is OrderState.REJECTED


async def test_an_order_is_never_sent_twice_for_one_order_ref(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    async with trading(hub, journal, bus) as (manager, orders):
        sim.control.set_price("AAPL", 150.0)
        await place(manager, "mats:s1:ONCE", 5)
        await place(manager, "mats:s1:ONCE", 5)  # a retry after a timeout, say
        await wait_for_event(orders, final("Filled"))
    assert len(sim.control.executions()) == 1 and len(sim.control.orders()) == 1


async def test_finished_orders_leave_ib_async_tables_so_a_long_day_does_not_grow_the_heap(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    async with trading(hub, journal, bus) as (manager, orders):
        sim.control.set_price("AAPL", 200.0)
        for n in range(5):
            await place_until_done(manager, orders, f"mats:s1:P{n}", 10)
        client = await hub.client_for("s1")
        assert client.ib is not None
        wrapper = client.ib.wrapper
        assert len(wrapper.trades) == 5 and len(wrapper.fills) == 5  # all kept while late reports may come
        oldest = [weakref.ref(trade) for trade in list(wrapper.trades.values())[:3]]
        gc.disable()  # freed without a collection: no reference cycle is left behind (full ones are rare)
        try:
            assert client.prune_finished(now=float("inf")) == 5  # … and gone once that time has passed
            assert [trade() for trade in oldest] == [None, None, None]
        finally:
            gc.enable()
        assert (len(wrapper.trades), len(wrapper.permId2Trade), len(wrapper.fills)) == (0, 0, 0)
        # the TradeManager keeps its own record of each, without ib_async's Trade
        assert [manager.orders[f"mats:s1:P{n}"].status.state for n in range(5)] == [OrderState.FILLED] * 5
        assert all(manager.orders[f"mats:s1:P{n}"].trade is None for n in range(5))
        # and a new order still goes out and fills through the same client
        await place(manager, "mats:s1:Q", 10)
        await wait_for_event(orders, final("Filled"))
        assert len(sim.control.executions()) == 6


async def test_an_order_journaled_but_lost_before_it_left_the_process_is_closed_at_restart(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    """The crash loop's find: a kill between the journal and the socket (ib_async holds messages back above
    45/s) left an order IB never saw working for ever, and a strategy waiting on it with it."""
    lost = OrderStatus(
        order_ref=OrderRef("mats:s1:LOST"),
        strategy_id=StrategyId("s1"),
        symbol="AAPL",
        state=OrderState.PENDING,
        qty=5.0,
        remaining=5.0,
        at=datetime.now(UTC),
    )
    await journal.record_order_event(lost)  # what the crashed engine left behind
    async with trading(hub, journal, bus) as (manager, orders):
        closed = await wait_for_event(orders, lambda e: e.status.order_ref == "mats:s1:LOST")
        assert manager.orders["mats:s1:LOST"].status.state is OrderState.CANCELLED
    assert closed.status.state is OrderState.CANCELLED and "never reached IB" in closed.status.reason
    assert (await journal.current_orders())[-1].state is OrderState.CANCELLED
    assert sim.control.orders() == []  # closed, never resent


async def test_a_command_that_fails_answers_its_asker_and_the_trade_manager_keeps_trading(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    async with trading(hub, journal, bus) as (manager, orders):
        sim.control.set_price("AAPL", 150.0)
        with pytest.raises(KeyError, match="unknown order"):
            await manager.ask(CancelOrder(order_ref="mats:s1:NOSUCH"))
        await place(manager, "mats:s1:AFTER", 5)
        await wait_for_event(orders, final("Filled"))
    assert len(sim.control.executions()) == 1


async def test_only_the_newest_finished_orders_stay_in_memory_and_an_old_ref_is_never_sent_again(
    sim: SimServer, hub: IBHub, journal: Journal, bus: EventBus
) -> None:
    async with trading(hub, journal, bus) as (manager, orders):
        manager.keep_finished = 2
        sim.control.set_price("AAPL", 150.0)
        for n in range(4):
            await place_until_done(manager, orders, f"mats:s1:F{n}", 1)
        assert sorted(manager.orders) == ["mats:s1:F2", "mats:s1:F3"]  # the newest two
        again = await place(manager, "mats:s1:F0", 1)
        assert not again.accepted and "never sent twice" in again.status.reason
    assert len(sim.control.orders()) == 4  # the old ref did not reach IB again
    assert len({s.order_ref for s in await journal.current_orders()}) == 4  # all of them in the journal
