"""A busy seeded session: several strategies trading while prices move; the books must agree everywhere."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from ib_async import IB, Contract, Forex, Future, LimitOrder, MarketOrder, Stock, StopOrder, Trade

from mats.sim import SimServer

from .conftest import Connect
from .helpers import wait_until

MASTER = 99


@pytest.mark.parametrize("seed", [7, 11])
async def test_random_order_flow_keeps_master_owner_and_simulator_books_equal(
    sim: SimServer, connect: Connect, seed: int
) -> None:
    rng = random.Random(seed)
    master = await connect(MASTER)
    strategies = [await connect(cid) for cid in (1, 2, 3)]
    strategies.append(await connect(4, max_version=176))
    contracts = [
        c
        for c in await strategies[0].qualifyContractsAsync(
            Stock("AAPL", "SMART", "USD"),
            Future("ES", exchange="CME"),
            Forex("EURUSD"),
            Stock("SAP", "SMART", "EUR"),
        )
        if isinstance(c, Contract)
    ]
    sim.control.set_fill_slices(2)
    trades: list[tuple[IB, Trade]] = []

    for step in range(120):
        ib = rng.choice(strategies)
        contract = rng.choice(contracts)
        price = sim.control.price(contract.localSymbol)
        tick = {"ES": 0.25, "EUR": 0.00005}.get(contract.symbol, 0.01)
        qty = rng.choice([1, 2, 3]) * (10_000 if contract.secType == "CASH" else 1)
        action = rng.choice(["BUY", "SELL"])
        kind = rng.random()
        if kind < 0.5:
            order = MarketOrder(action, qty, orderRef=f"mats:s{ib.client.clientId}:{step}")
        elif kind < 0.8:
            offset = rng.randint(-3, 3) * tick
            order = LimitOrder(
                action, qty, round(price + offset, 5), orderRef=f"mats:s{ib.client.clientId}:{step}"
            )
        else:
            offset = rng.randint(1, 3) * tick * (1 if action == "BUY" else -1)
            order = StopOrder(
                action, qty, round(price + offset, 5), orderRef=f"mats:s{ib.client.clientId}:{step}"
            )
        trades.append((ib, ib.placeOrder(contract, order)))
        if step % 10 == 9:
            moved = contracts[rng.randrange(len(contracts))]
            sim.control.set_price(
                moved.localSymbol, price_of(sim, moved) + rng.randint(-4, 4) * tick_of(moved)
            )
    for ib, trade in trades:  # every order has reached the simulator before the kill switch
        await wait_until(ib, lambda trade=trade: trade.orderStatus.status != "PendingSubmit")
    sim.control.global_cancel()

    for ib, trade in trades:
        await wait_until(ib, trade.isDone)
    booked = sim.control.executions()
    await wait_until(master, lambda: len(master.fills()) == len(booked))
    await wait_until(master, lambda: all(f.commissionReport.execId for f in master.fills()))

    assert booked, "the scenario should trade"
    by_exec = {b.execution.exec_id: b for b in booked}
    master_fills = {f.execution.execId: f for f in master.fills()}
    assert master_fills.keys() == by_exec.keys()
    for exec_id, fill in master_fills.items():
        assert fill.execution.shares == float(by_exec[exec_id].execution.shares)
        assert fill.execution.price == by_exec[exec_id].execution.price
        assert fill.commissionReport.commission == pytest.approx(by_exec[exec_id].commission.commission)
    owner_fills = {f.execution.execId for ib in strategies for f in ib.fills()}
    assert owner_fills == by_exec.keys()

    net: dict[str, float] = defaultdict(float)
    for b in booked:
        sign = 1 if b.execution.side == "BOT" else -1
        net[b.symbol] += sign * float(b.execution.shares)
    positions = {symbol: float(p.qty) for symbol, p in sim.control.positions().items()}
    assert positions == {s: q for s, q in net.items() if q}
    for _ib, trade in trades:
        filled = sum(f.execution.shares for f in trade.fills)
        assert trade.orderStatus.filled == filled
        assert trade.orderStatus.status in ("Filled", "Cancelled", "Inactive")


def price_of(sim: SimServer, contract: Contract) -> float:
    return sim.control.price(contract.localSymbol)


def tick_of(contract: Contract) -> float:
    return {"ES": 0.25, "EUR": 0.00005}.get(contract.symbol, 0.01)
