"""The two-lane mailbox rules of DESIGN.md section 1, exercised through real actors on one loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from mats.actors import Actor, EventBus, MailboxFull, Supervisor
from mats.messages import ActorStopped
from mats.model import Bar, Tick

T0 = datetime(2026, 1, 2, 14, 30, tzinfo=UTC)


class Cancel(msgspec.Struct, frozen=True):
    order_ref: str


def bar(i: int, symbol: str = "AAPL") -> Bar:
    return Bar(symbol=symbol, time=T0 + timedelta(minutes=i), open=i, high=i, low=i, close=i)


class Recorder(Actor):
    """Records what it handled, in order; can signal when it reaches the n-th bar."""

    def __init__(self, name: str = "recorder", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.handled: list[Any] = []
        self.bars_seen = 0
        self.signal_at: int | None = None
        self.reached = asyncio.Event()
        self._expected: tuple[int, asyncio.Event] | None = None

    async def handle(self, message: Any) -> Any:
        self.handled.append(message)
        if isinstance(message, Bar):
            self.bars_seen += 1
            if self.bars_seen == self.signal_at:
                self.reached.set()
        if self._expected and len(self.handled) >= self._expected[0]:
            self._expected[1].set()
        return message

    async def handled_count(self, n: int, timeout: float = 10) -> None:
        """Wait until ``n`` messages have been handled."""
        event = asyncio.Event()
        self._expected = (n, event)
        if len(self.handled) >= n:
            event.set()
        await asyncio.wait_for(event.wait(), timeout)


async def test_cancel_is_not_starved_by_a_bar_flood() -> None:
    async with Supervisor() as supervisor:
        actor = Recorder(data_capacity=100_000)
        actor.signal_at = 1_000
        await supervisor.spawn(actor)
        for i in range(100_000):
            await actor.tell(bar(i))
        await asyncio.wait_for(actor.reached.wait(), timeout=10)
        await actor.tell(Cancel("mats:s1:01"))
        await actor.handled_count(100_001, timeout=60)

    position = next(i for i, m in enumerate(actor.handled) if isinstance(m, Cancel))
    bars_before_cancel = sum(1 for m in actor.handled[:position] if isinstance(m, Bar))
    # The cancel waited for at most the bar being handled when it arrived, not for the 99,000 behind it.
    assert 1_000 <= bars_before_cancel <= 1_002
    closes = [m.close for m in actor.handled if isinstance(m, Bar)]
    assert closes == [float(i) for i in range(100_000)]  # none dropped, none reordered


async def test_strategy_that_cannot_keep_up_with_bars_is_stopped_with_a_reason() -> None:
    bus = EventBus()
    stops = bus.subscribe(types={"alert"})
    async with Supervisor() as supervisor:
        actor = Recorder("slow_strategy", bus=bus, data_capacity=50)
        await supervisor.spawn(actor)
        for i in range(51):  # nothing runs between these sends: the 51st overflows
            await actor.tell(bar(i))
        await asyncio.wait_for(actor.wait_stopped(), timeout=5)

    assert actor.bars_seen == 0  # it was stopped, not fed a partial history
    assert "cannot keep up" in actor.stop_reason and "50 bars waiting" in actor.stop_reason
    events = [e.data for e in _drain(stops)]
    assert any(isinstance(e, ActorStopped) and e.actor == "slow_strategy" for e in events)


async def test_ticks_are_coalesced_per_symbol_and_counted() -> None:
    async with Supervisor() as supervisor:
        actor = Recorder()
        await supervisor.spawn(actor)
        # Sent synchronously, so the actor gets no chance to run in between.
        for i in range(10):
            actor.tell_nowait(Tick(symbol="AAPL", time=T0, last=100.0 + i))
        for i in range(5):
            actor.tell_nowait(Tick(symbol="MSFT", time=T0, last=300.0 + i))
        actor.tell_nowait(bar(1))
        await actor.handled_count(3)
        assert actor.metrics.coalesced_ticks == 9 + 4

    aapl, msft, the_bar = actor.handled
    assert (aapl.symbol, aapl.last) == ("AAPL", 109.0)  # latest wins
    assert (msft.symbol, msft.last) == ("MSFT", 304.0)
    assert isinstance(the_bar, Bar)  # and the bar kept its place behind them


async def test_full_control_lane_makes_the_sender_wait() -> None:
    async with Supervisor() as supervisor:
        actor = Recorder(control_capacity=2)
        actor.mailbox.put_control_nowait(Cancel("a"))
        actor.mailbox.put_control_nowait(Cancel("b"))
        with pytest.raises(MailboxFull):
            actor.tell_nowait(Cancel("c"))
        sender = asyncio.create_task(actor.tell(Cancel("c")))
        await asyncio.sleep(0)
        assert not sender.done()  # waiting for room, not dropped
        await supervisor.spawn(actor)
        await asyncio.wait_for(sender, timeout=5)
        await actor.handled_count(3)
    assert [m.order_ref for m in actor.handled] == ["a", "b", "c"]


async def test_ask_returns_the_handlers_answer() -> None:
    async with Supervisor() as supervisor:
        actor = await supervisor.spawn(Recorder())
        assert await actor.ask(Cancel("x"), timeout=2) == Cancel("x")
        metrics = actor.metrics
    assert metrics.handled == 1 and metrics.slowest_message == "Cancel"


def _drain(subscription: Any) -> list[Any]:
    out = []
    while (envelope := subscription.get_nowait()) is not None:
        out.append(envelope)
    return out
