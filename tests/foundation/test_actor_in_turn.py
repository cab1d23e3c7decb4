"""An idle actor handles a message within its sender's turn (the latency path's hops); a busy one queues it,
so messages are still handled one at a time and in order, and a failure is supervised as ever."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import msgspec
import pytest

from live.support import wait_for_event
from mats.actors import Actor, ActorState, EventBus, RestartPolicy, Supervisor
from mats.messages import ActorFailed


class Note(msgspec.Struct, frozen=True):
    n: int


class WaitFor(msgspec.Struct, frozen=True):
    n: int


class Boom(msgspec.Struct, frozen=True):
    pass


class Recorder(Actor):
    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.handled: list[int] = []
        self.release = asyncio.Event()
        self.tasks: list[asyncio.Task[Any] | None] = []

    async def handle(self, message: Any) -> Any:
        self.tasks.append(asyncio.current_task())
        match message:
            case Boom():
                raise RuntimeError("strategy bug")
            case WaitFor(n=n):
                with anyio.fail_after(5):  # a cancel scope held across the suspension
                    await self.release.wait()
                self.handled.append(n)
            case Note(n=n):
                self.handled.append(n)
        return len(self.handled)


async def idle(actor: Actor) -> None:
    """Until the actor's loop waits for mail (it yields the loop a few times after starting or a message)."""
    for _ in range(100):
        if actor._idle():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{actor.name} never became idle")


async def test_an_idle_actor_handles_a_message_before_the_sender_continues() -> None:
    async with Supervisor() as supervisor:
        actor = await supervisor.spawn(Recorder("quick"))
        await idle(actor)
        actor.tell_now(Note(1))
        assert actor.handled == [1]  # no loop iteration in between
        answer = actor.ask_now(Note(2))
        assert answer.done() and answer.result() == 2
        assert actor.metrics.handled == 2


async def test_a_busy_actor_queues_the_message_and_handles_it_after_the_one_in_progress() -> None:
    async with Supervisor() as supervisor:
        actor = await supervisor.spawn(Recorder("busy"))
        await idle(actor)
        first = actor.ask_now(WaitFor(1))  # begun in this turn, now waiting for its release
        actor.tell_now(Note(2))  # the actor is busy: queued behind it
        actor.tell_now(Note(3))
        assert actor.handled == [] and actor.mailbox.control_depth == 2
        actor.release.set()
        assert await asyncio.wait_for(first, 5) == 1
        last = actor.ask_now(Note(4))  # queued too until the mailbox is drained, then in order
        assert await asyncio.wait_for(last, 5) == 4
        assert actor.handled == [1, 2, 3, 4]


async def test_a_cancel_scope_in_a_handler_begun_in_the_senders_turn_belongs_to_its_own_task() -> None:
    async with Supervisor() as supervisor:
        actor = await supervisor.spawn(Recorder("scoped"))
        await idle(actor)
        sender = asyncio.current_task()
        reply = actor.ask_now(WaitFor(1))
        actor.release.set()
        assert await asyncio.wait_for(reply, 5) == 1  # no "cancel scope in a different task" error
        assert actor.tasks[0] is not None and actor.tasks[0] is not sender


@pytest.mark.parametrize(("on_failure", "action"), [("stop", "stopped"), ("restart", "restarted")])
async def test_a_handler_failing_in_the_senders_turn_is_supervised_like_any_other(
    on_failure: str, action: str
) -> None:
    bus = EventBus()
    failures = bus.subscribe(types={"alert"})
    async with Supervisor() as supervisor:
        policy = RestartPolicy(on_failure=on_failure)  # type: ignore[arg-type]
        actor = await supervisor.spawn(Recorder("fragile", bus=bus, policy=policy))
        await idle(actor)
        reply = actor.ask_now(Boom())
        with pytest.raises(RuntimeError, match="strategy bug"):
            await asyncio.wait_for(reply, 5)  # the asker learns what went wrong
        failed = await wait_for_event(failures, lambda e: isinstance(e, ActorFailed))
        assert (failed.actor, failed.action) == ("fragile", action)
        if on_failure == "stop":
            await asyncio.wait_for(actor.wait_stopped(), 5)
            assert actor.state is ActorState.STOPPED
            assert actor.stop_reason.startswith("failed: RuntimeError('strategy bug')")
        else:
            assert await asyncio.wait_for(actor.ask(Note(5)), 5) == 1
            assert actor.running
