"""Randomised schedules (issue #12): orders, partial fills, cancels and faults interleaved by hypothesis,
the invariants checked after every step, and coverage counted so a trivial schedule cannot pass.

A schedule is a list of steps. Each fault step starts its fault, lets the market move (resting orders
fill) and ends it, so the engine can settle between steps and the invariants hold after each. The
strategy always mixes in one of each "hard" step (a restart with resting orders crossing, partial fills,
a correction, late commissions) at random positions; everything else is drawn freely. ``run_schedule``
returns what happened (``Counter`` of coverage events); the test and ``bench/chaos.py`` require them.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from live.support import free_port
from mats.ib.connection import ConnectionState
from mats.sim.control import Fill as SimFill

from .desk import Desk, paused_sim, pulse
from .invariants import assert_invariants

STRATEGIES = {"trend": "AAPL", "meanrev": "MSFT"}
START_PRICES = {"AAPL": 100.0, "MSFT": 300.0}

#: What a schedule must have made happen, summed over a run of schedules.
COVERAGE = ("fill_while_disconnected", "correction", "partial_fill", "late_commission")


@dataclass(frozen=True)
class Order:
    strategy_id: str
    qty: int  # signed
    ticks_away: int  # 0: market order; n: a limit n% away from the price (resting)


@dataclass(frozen=True)
class Move:
    symbol: str
    pct: float  # resting orders it crosses fill


@dataclass(frozen=True)
class Slices:
    n: int  # executions per order from now on


@dataclass(frozen=True)
class Cancel:
    pick: int  # which working MATS order (modulo how many there are)


@dataclass(frozen=True)
class Manual:
    symbol: str
    qty: int


@dataclass(frozen=True)
class Restart:
    """The Gateway goes down with resting orders on both sides; the market crosses them meanwhile."""

    pct: float


@dataclass(frozen=True)
class Reset:
    data_lost: bool
    pct: float


@dataclass(frozen=True)
class FarmFlap:
    qty: int


@dataclass(frozen=True)
class LateCommissions:
    strategy_id: str
    qty: int


@dataclass(frozen=True)
class Duplicates:
    strategy_id: str
    qty: int


@dataclass(frozen=True)
class Correct:
    pick: int
    price_ticks: int
    qty_change: int


Step = (
    Order
    | Move
    | Slices
    | Cancel
    | Manual
    | Restart
    | Reset
    | FarmFlap
    | LateCommissions
    | Duplicates
    | Correct
)

sids = st.sampled_from(sorted(STRATEGIES))
symbols = st.sampled_from(sorted(START_PRICES))
quantities = st.integers(-20, 20).filter(bool)
moves = st.sampled_from([-3.0, -2.0, 2.0, 3.0])

free_steps: st.SearchStrategy[Step] = st.one_of(
    st.builds(Order, sids, quantities, st.integers(0, 3)),
    st.builds(Move, symbols, st.floats(-3.0, 3.0).map(lambda x: round(x, 1))),
    st.builds(Slices, st.integers(1, 3)),
    st.builds(Cancel, st.integers(0, 50)),
    st.builds(Manual, symbols, quantities),
    st.builds(Restart, moves),
    st.builds(Reset, st.booleans(), moves),
    st.builds(FarmFlap, quantities),
    st.builds(LateCommissions, sids, quantities),
    st.builds(Duplicates, sids, quantities),
    st.builds(Correct, st.integers(0, 50), st.integers(-3, 3), st.integers(-2, 2)),
)

required_steps = st.tuples(
    st.builds(Restart, moves),
    st.builds(Slices, st.integers(2, 3)),
    st.builds(Order, sids, quantities, st.just(0)),
    st.builds(Correct, st.integers(0, 50), st.integers(-3, 3).filter(bool), st.integers(-2, 2)),
    st.builds(LateCommissions, sids, quantities),
)


@st.composite
def schedules(draw: st.DrawFn, max_free: int = 6) -> list[Step]:
    """Free steps with the required ones inserted at drawn positions (the slices before its order)."""
    steps: list[Step] = draw(st.lists(free_steps, max_size=max_free))
    restart, slices, sliced_order, correct, late = draw(required_steps)
    for step in (restart, correct, late):
        steps.insert(draw(st.integers(0, len(steps))), step)
    at = draw(st.integers(0, len(steps)))
    steps[at:at] = [slices, sliced_order]
    return steps


async def run_schedule(steps: list[Step], workdir: Path | None = None) -> Counter[str]:
    """Play a schedule on a fresh simulator and engine; assert the invariants after every step."""
    with tempfile.TemporaryDirectory(prefix="mats-chaos-") as tmp:
        async with paused_sim(free_port()) as sim:
            for symbol, price in START_PRICES.items():
                sim.control.set_price(symbol, price)
            specs = [pulse(sid, symbol, 1) for sid, symbol in STRATEGIES.items()]
            async with Desk(sim, workdir or Path(tmp), specs) as desk:
                player = _Player(desk)
                for i, step in enumerate(steps):
                    await player.play(step)
                    try:
                        assert_invariants(await desk.check())
                    except AssertionError as exc:
                        raise AssertionError(f"after step {i} {step!r}: {exc}") from None
                outcome = await desk.finish()
                assert_invariants(outcome)
                player.coverage["partial_fill"] += _partially_filled_orders(outcome.executions)
                player.coverage["steps"] += len(steps)
                return player.coverage


class _Player:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.sim = desk.sim
        self.coverage: Counter[str] = Counter()

    def _booked(self) -> dict[str, float | None]:
        assert self.desk.trading.portfolio is not None
        return {f.exec_id: f.commission for f in self.desk.trading.portfolio.fills()}

    async def play(self, step: Step) -> None:
        desk, sim = self.desk, self.sim
        match step:
            case Order(strategy_id=sid, qty=qty, ticks_away=away):
                await self._order(sid, qty, away)
            case Move(symbol=symbol, pct=pct):
                self._move(symbol, pct)
            case Slices(n=n):
                sim.control.set_fill_slices(n)
            case Cancel(pick=pick):
                working = sorted(
                    o.ticket.order_ref
                    for o in sim.control.open_orders()
                    if o.ticket.order_ref.startswith("mats:")
                )
                if working:
                    await desk.cancel(working[pick % len(working)])
                    self.coverage["cancel"] += 1
            case Manual(symbol=symbol, qty=qty):
                sim.control.place_manual_order(symbol, "BUY" if qty > 0 else "SELL", abs(qty))
                self.coverage["manual"] += 1
            case Restart(pct=pct):
                await self._restart(pct)
            case Reset(data_lost=data_lost, pct=pct):
                await self._reset(data_lost, pct)
            case FarmFlap(qty=qty):
                sim.control.faults.farm_flap(duration=5)
                await self._order("trend", qty, 0)
                sim.control.advance(5)
                self.coverage["farm_flap"] += 1
            case LateCommissions(strategy_id=sid, qty=qty):
                await self._late_commissions(sid, qty)
            case Duplicates(strategy_id=sid, qty=qty):
                recorder = desk.trading.recorder
                assert recorder is not None
                before = recorder.duplicates
                sim.control.faults.duplicate_executions(1)
                await self._order(sid, qty, 0)
                await desk.until(lambda: recorder.duplicates > before, "the duplicate seen")
                self.coverage["duplicate"] += 1
            case Correct(pick=pick, price_ticks=ticks, qty_change=dq):
                await self._correct(pick, ticks, dq)

    async def _order(self, sid: str, qty: int, away: int) -> None:
        symbol = STRATEGIES[sid]
        limit = None
        if away:
            price = self.sim.control.price(symbol)
            limit = round(price * (1 - away / 100) if qty > 0 else price * (1 + away / 100), 2)
        await self.desk.order(sid, symbol, qty, limit_price=limit)
        self.coverage["order"] += 1

    def _move(self, symbol: str, pct: float) -> None:
        self.sim.control.set_price(symbol, round(self.sim.control.price(symbol) * (1 + pct / 100), 2))

    async def _restart(self, pct: float) -> None:
        desk, sim = self.desk, self.sim
        await self._order("trend", 5, 1)  # resting on both sides of both books...
        await self._order("meanrev", -5, 1)
        await self._order("meanrev", 4, 1)
        await sim.control.faults.restart(down=30)
        for symbol in START_PRICES:  # ...and the market crosses some of them while nobody listens
            self._move(symbol, pct)
        made_while_down = {f.execution.exec_id for f in sim.control.executions()} - set(self._booked())
        sim.control.advance(30)
        await sim.control.faults.wait_up()
        await desk.settle()
        self.coverage["fill_while_disconnected"] += len(made_while_down)
        self.coverage["restart"] += 1

    async def _reset(self, data_lost: bool, pct: float) -> None:
        desk, sim = self.desk, self.sim
        assert desk.engine.hub is not None
        clients = list(desk.engine.hub.clients.values())
        sim.control.faults.reset(duration=20, data_lost=data_lost)
        await desk.until(lambda: all(c.state is ConnectionState.HELD for c in clients), "1100")
        for symbol in START_PRICES:
            self._move(symbol, pct)
        sim.control.advance(20)
        await desk.until(lambda: all(c.state is ConnectionState.CONNECTED for c in clients), "1102/1101")
        self.coverage["reset"] += 1

    async def _late_commissions(self, sid: str, qty: int) -> None:
        desk, sim = self.desk, self.sim
        sim.control.faults.delay_commission_reports(5)
        before = len(sim.control.executions())
        await self._order(sid, qty, 0)
        await desk.until(lambda: len(sim.control.executions()) > before, "the execution")
        fresh = [f.execution.exec_id for f in sim.control.executions()[before:]]
        await desk.until(lambda: all(e in self._booked() for e in fresh), "the fills booked")
        self.coverage["late_commission"] += sum(1 for e in fresh if self._booked()[e] is None)
        sim.control.advance(5)
        sim.control.faults.delay_commission_reports(0)

    async def _correct(self, pick: int, ticks: int, dq: int) -> None:
        executions = self.sim.control.executions()
        if not executions:
            return
        execution = executions[pick % len(executions)].execution
        price = round(execution.price + ticks * 0.01, 2) if ticks else None
        quantity = max(1.0, float(execution.shares) + dq) if dq else None
        if price is None and quantity is None:
            price = round(execution.price + 0.01, 2)
        corrected = self.sim.control.faults.correct_execution(
            execution.exec_id, price=price, quantity=quantity
        )
        await self.desk.until(lambda: corrected in self._booked(), "the correction booked")
        self.coverage["correction"] += 1


def _partially_filled_orders(executions: Sequence[SimFill]) -> int:
    per_order = Counter(f.execution.perm_id for f in executions)
    return sum(1 for n in per_order.values() if n > 1)
