"""A raising handler is contained by its actor's policy; the loop and other actors are unharmed."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from mats.actors import Actor, ActorState, ActorStoppedError, EventBus, RestartPolicy, Supervisor
from mats.messages import ActorFailed, ActorStopped


class Work(msgspec.Struct, frozen=True):
    n: int


class Boom(msgspec.Struct, frozen=True):
    pass


class Worker(Actor):
    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.done: list[int] = []
        self.restarted_after: list[str] = []
        self.stopped_with = ""

    async def handle(self, message: Any) -> Any:
        if isinstance(message, Boom):
            raise RuntimeError("strategy bug")
        self.done.append(message.n)
        return message.n * 2

    async def on_restart(self, error: BaseException) -> None:
        self.restarted_after.append(str(error))

    async def on_stop(self, reason: str) -> None:
        self.stopped_with = reason


async def test_raising_handler_stops_its_actor_and_spares_the_others() -> None:
    bus = EventBus()
    alerts = bus.subscribe(types={"alert"})
    async with Supervisor() as supervisor:
        fragile = await supervisor.spawn(Worker("fragile", bus=bus))
        sturdy = await supervisor.spawn(Worker("sturdy", bus=bus))
        await fragile.tell(Work(1))
        with pytest.raises(RuntimeError, match="strategy bug"):
            await fragile.ask(Boom(), timeout=2)  # the asker learns what went wrong
        await asyncio.wait_for(fragile.wait_stopped(), timeout=2)
        with pytest.raises(Exception, match="closed"):
            await fragile.tell(Work(2))
        assert await sturdy.ask(Work(21), timeout=2) == 42

    assert fragile.state is ActorState.STOPPED and fragile.done == [1]
    assert fragile.stop_reason.startswith("failed: RuntimeError('strategy bug')")
    assert fragile.stopped_with == fragile.stop_reason  # on_stop ran with the reason
    events = []
    while (envelope := alerts.get_nowait()) is not None:
        events.append(envelope.data)
    failed = [e for e in events if isinstance(e, ActorFailed)]
    assert [(e.actor, e.action) for e in failed] == [("fragile", "stopped")]
    assert "strategy bug" in failed[0].error
    assert any(isinstance(e, ActorStopped) and e.actor == "fragile" for e in events)
    assert sturdy.done == [21]


async def test_restart_policy_keeps_the_actor_running_until_the_budget_is_spent() -> None:
    policy = RestartPolicy(on_failure="restart", max_restarts=2, window_s=60)
    async with Supervisor() as supervisor:
        worker = await supervisor.spawn(Worker("restartable", policy=policy))
        for _ in range(2):
            with pytest.raises(RuntimeError):
                await worker.ask(Boom(), timeout=2)
        assert await worker.ask(Work(5), timeout=2) == 10  # still serving after two restarts
        with pytest.raises(RuntimeError):
            await worker.ask(Boom(), timeout=2)  # the third failure in the window stops it
        await asyncio.wait_for(worker.wait_stopped(), timeout=2)

    assert worker.restarted_after == ["strategy bug", "strategy bug"]
    assert worker.metrics.failures == 3 and worker.metrics.restarts == 2
    assert worker.done == [5]


async def test_graceful_stop_handles_queued_control_messages_then_fails_late_asks() -> None:
    async with Supervisor() as supervisor:
        worker = Worker("graceful")
        for n in range(3):
            worker.mailbox.put_control_nowait(Work(n))
        await supervisor.spawn(worker)
        await worker.stop("operator", timeout=2)
        with pytest.raises((ActorStoppedError, Exception)):
            await worker.ask(Work(9), timeout=1)
    assert worker.done == [0, 1, 2]
    assert worker.stop_reason == "operator"


async def test_a_handler_that_blocks_the_loop_shows_up_as_loop_lag() -> None:
    from mats.looplag import LoopLagMonitor

    class Blocker(Actor):
        async def handle(self, message: Any) -> None:
            import time

            time.sleep(0.2)  # noqa: ASYNC251 - blocking the loop is the bug the monitor exists for

    lag = LoopLagMonitor(interval=0.01, alert_ms=100)
    alerts: list[float] = []
    lag.on_alert = alerts.append
    async with Supervisor() as supervisor:
        monitor = asyncio.create_task(lag.run())
        await lag.next_sample()
        blocker = await supervisor.spawn(Blocker("blocker"))
        await blocker.ask(Work(1), timeout=5)
        await lag.next_sample()
        monitor.cancel()
    assert lag.stats().max_ms >= 150
    assert alerts and alerts[0] >= 150


async def test_only_a_handler_that_holds_the_loop_is_flagged_not_one_that_awaits() -> None:
    import time

    class Mixed(Actor):
        async def handle(self, message: Any) -> None:
            if message.n == 1:
                await asyncio.sleep(0.2)  # waiting politely: other actors run meanwhile
            else:
                time.sleep(0.15)  # noqa: ASYNC251 - holding the loop: the bug the alert exists for

    bus = EventBus()
    alerts = bus.subscribe(types={"alert"})
    async with Supervisor() as supervisor:
        actor = await supervisor.spawn(Mixed("mixed", bus=bus))
        await actor.ask(Work(1), timeout=5)
        assert alerts.get_nowait() is None  # 200 ms of awaiting is not a blocked loop
        await actor.ask(Work(2), timeout=5)
    flagged = alerts.get_nowait()
    assert flagged is not None and flagged.data.kind == "slow_handler" and flagged.data.data["ms"] >= 150
    assert actor.metrics.slowest_handler_ms >= 190  # wall time is still what the metrics report
