"""Actors: a mailbox, one handler, supervision by policy, metrics.

An actor owns its state and changes it only inside ``handle``; others reach it with ``tell`` (fire and
forget) or ``ask`` (awaits the handler's return value). A handler that raises is caught here, logged,
published as ``ActorFailed`` and the actor is stopped or restarted per its ``RestartPolicy`` — it never
takes down the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Hashable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

import anyio
import msgspec
import structlog

from mats.actors.mailbox import Mailbox, MailboxClosed, MailboxFull, MailboxOverflow
from mats.actors.steps import TimedSteps, Turn
from mats.messages import ActorFailed, ActorStopped, AlertRaised
from mats.model import Bar, Tick

if TYPE_CHECKING:
    from mats.actors.bus import EventBus


class ActorStoppedError(RuntimeError):
    """An ``ask`` whose actor stopped before answering."""


class RestartPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    on_failure: Literal["stop", "restart"] = "stop"
    max_restarts: int = 3  # within ``window_s``; one more failure stops the actor
    window_s: float = 60.0


#: For the account's core actors (orders, fills, books): one message that fails must not stop trading for
#: everyone (the asker gets the error); a storm of failures still stops the actor, loudly.
CORE_ACTOR_POLICY = RestartPolicy(on_failure="restart", max_restarts=100, window_s=60.0)


class ActorState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"


class ActorMetrics(msgspec.Struct):
    handled: int = 0
    failures: int = 0
    restarts: int = 0
    slowest_handler_ms: float = 0.0
    slowest_message: str = ""
    control_depth: int = 0
    data_depth: int = 0
    coalesced_ticks: int = 0


class _Ask:
    __slots__ = ("future", "message")

    def __init__(self, message: Any, future: asyncio.Future[Any]) -> None:
        self.message = message
        self.future = future


class _Stop:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Actor:
    """Subclass and implement ``handle``; optionally ``on_start``, ``on_stop`` and ``on_restart``."""

    def __init__(
        self,
        name: str,
        *,
        bus: EventBus | None = None,
        policy: RestartPolicy | None = None,
        control_capacity: int = 1_000,
        data_capacity: int = 10_000,
    ) -> None:
        self.name = name
        self.bus = bus
        self.policy = policy or RestartPolicy()
        self.mailbox = Mailbox(control_capacity=control_capacity, data_capacity=data_capacity)
        self.state = ActorState.CREATED
        self.stop_reason = ""
        self.slow_handler_ms = 100.0
        self.log = structlog.get_logger("mats.actor").bind(actor=name)
        self._metrics = ActorMetrics()
        self._failure_times: deque[float] = deque()
        self._started = asyncio.Event()
        self._stopped = asyncio.Event()
        self._parked = False  # the loop waits for mail
        self._in_turn = False  # a message is being handled synchronously in a caller's turn
        self._inflight: asyncio.Future[None] | None = None  # the rest of such a message, suspended

    # --- to be implemented ------------------------------------------------------------------------

    async def handle(self, message: Any) -> Any:
        raise NotImplementedError

    async def on_start(self) -> None:
        """Runs before the first message."""

    async def on_stop(self, reason: str) -> None:
        """Runs once, after the last message, whatever the reason."""

    async def on_restart(self, error: BaseException) -> None:
        """Runs after a failed handler when the policy restarts; reset what the failure may have broken."""

    def tick_key(self, tick: Tick) -> Hashable:
        return tick.symbol

    # --- sending ----------------------------------------------------------------------------------

    async def tell(self, message: Any) -> None:
        """Fire and forget. Control messages wait for room; bars and ticks never wait."""
        if isinstance(message, Bar | Tick):
            self._put_market_data(message)
        else:
            await self.mailbox.put_control(message)

    def tell_nowait(self, message: Any) -> None:
        """For synchronous callers (socket callbacks); raises ``MailboxFull`` instead of waiting."""
        if isinstance(message, Bar | Tick):
            self._put_market_data(message)
        else:
            self.mailbox.put_control_nowait(message)

    def ask_nowait(self, message: Any) -> asyncio.Future[Any]:
        """Queue a request from synchronous code; the future holds the reply (``MailboxFull`` if no room).

        No task in between: the order path uses it so a strategy's order is in the TradeManager's mailbox
        before the strategy's handler returns."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.mailbox.put_control_nowait(_Ask(message, future))
        return future

    def tell_now(self, message: Any) -> None:
        """Handle ``message`` within the caller's turn if this actor is idle, else queue it (``tell_nowait``).

        The latency path's hops: a bar decoded off the socket runs its strategy, and the strategy's order
        reaches the TradeManager, without waiting for a loop iteration at each hop (under HTTP load an
        iteration is milliseconds). Idle means nothing queued and nothing being handled, so messages are
        still handled one at a time and in order; if the handler suspends, the rest runs as a task and
        the actor takes its next message after it. A failure is supervised as in the mailbox loop."""
        if self._idle():
            self._handle_in_turn(message, None)
        else:
            self.tell_nowait(message)

    def ask_now(self, message: Any) -> asyncio.Future[Any]:
        """``ask_nowait``, handled within the caller's turn if this actor is idle (see ``tell_now``)."""
        if not self._idle():
            return self.ask_nowait(message)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._handle_in_turn(message, future)
        return future

    async def ask(self, message: Any, *, timeout: float = 5.0) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with anyio.fail_after(timeout):
            await self.mailbox.put_control(_Ask(message, future))
            return await future

    async def stop(self, reason: str = "requested", *, timeout: float = 10.0) -> None:
        """Graceful: control messages already queued are handled first, then ``on_stop`` runs."""
        if self.state is ActorState.STOPPED:
            return
        if self.state is ActorState.CREATED:
            self._finish(reason)
            return
        try:
            await self.mailbox.put_control(_Stop(reason))
        except MailboxClosed:
            pass
        with anyio.fail_after(timeout):
            await self._stopped.wait()

    def _put_market_data(self, message: Bar | Tick) -> bool:
        """Market data never blocks its producer: a stopped actor ignores it, and an actor that
        cannot keep up with bars overflows and stops itself loudly (the bar is not silently lost)."""
        mailbox = self.mailbox
        if mailbox.closed or mailbox.overflow is not None:
            return False
        if isinstance(message, Tick):
            mailbox.put_tick(self.tick_key(message), message)
            return True
        try:
            mailbox.put_data(message)
        except MailboxOverflow:
            self.log.error("actor.overflow", reason=mailbox.overflow)
            return False
        return True

    # --- the loop ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """The actor's task; returns when it stops. Run it in the supervisor's task group."""
        self.state = ActorState.RUNNING
        reason = "finished"
        try:
            await self.on_start()
            self._started.set()
            reason = await self._loop()
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        except Exception as exc:  # on_start failed: nothing was handled yet
            reason = f"failed to start: {exc!r}"
            self.log.exception("actor.start_failed")
            self._publish(ActorFailed(actor=self.name, error=repr(exc), action="stopped"))
        finally:
            self._started.set()
            with anyio.CancelScope(shield=True):
                await self._shutdown(reason)

    async def _loop(self) -> str:
        mailbox = self.mailbox
        while True:
            self._parked = True
            try:
                item = await mailbox.get()
            except MailboxOverflow as exc:
                return f"stopped: {exc}"
            finally:
                self._parked = False
            if self._inflight is not None:  # a message begun in a caller's turn comes first
                await asyncio.wait([self._inflight])
            if isinstance(item, _Stop):
                return item.reason
            future = None
            if isinstance(item, _Ask):
                future, item = item.future, item.message
            started = time.perf_counter()
            step = TimedSteps(self.handle(item))
            try:
                result = await step
            except Exception as exc:
                if future is not None and not future.done():
                    future.set_exception(exc)
                if not await self._supervise(exc, item):
                    return f"failed: {exc!r}"
            else:
                if future is not None and not future.done():
                    future.set_result(result)
            finally:
                self._account(item, time.perf_counter() - started, step.longest)
            # Yield after every message: one busy actor must never starve the loop or its peers.
            await asyncio.sleep(0)

    def _idle(self) -> bool:
        mailbox = self.mailbox
        return (
            self._parked
            and not self._in_turn
            and self._inflight is None
            and not mailbox.control_depth
            and not mailbox.data_depth
            and not mailbox.closed
            and mailbox.overflow is None
        )

    def _handle_in_turn(self, message: Any, future: asyncio.Future[Any] | None) -> None:
        """Run the handler now, up to its first suspension, as the first step of its own task.

        The task is made current for that step (as Python 3.12's eager tasks do), so a cancel scope or
        ``current_task()`` in the handler belongs to the task that runs the rest, if there is a rest."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        turn = Turn(self.handle(message))
        task = loop.create_task(self._finish_in_turn(turn, message, future, started))
        self._inflight = task
        self._in_turn = True
        try:
            turn.run_first_step_as(task)
        finally:
            self._in_turn = False
        turn.first_step = time.perf_counter() - started
        if turn.finished and turn.error is None:  # the common case: done, the actor is free at once
            self._inflight = None
            if future is not None:
                future.set_result(turn.result)
            self._account(message, turn.first_step, turn.first_step)

    async def _finish_in_turn(
        self, turn: Turn, message: Any, future: asyncio.Future[Any] | None, started: float
    ) -> None:
        if turn.finished and turn.error is None:
            return  # answered in the caller's turn
        longest = turn.first_step
        try:
            if turn.error is not None:
                raise turn.error
            rest = TimedSteps(turn.coro, turn.pending, started=True)
            try:
                result = await rest
            finally:
                longest = max(longest, rest.longest)
        except Exception as exc:
            if future is not None and not future.done():
                future.set_exception(exc)
            self._account(message, time.perf_counter() - started, longest)
            await self._failed_in_turn(exc, message)
        else:
            if future is not None and not future.done():
                future.set_result(result)
            self._account(message, time.perf_counter() - started, longest)
        finally:
            self._inflight = None

    async def _failed_in_turn(self, exc: Exception, message: Any) -> None:
        try:
            keep_running = await self._supervise(exc, message)
        finally:
            self._inflight = None
        if not keep_running:
            try:  # the loop stops as it would have had the message come through the mailbox
                self.mailbox.put_control_nowait(_Stop(f"failed: {exc!r}"))
            except (MailboxClosed, MailboxFull):
                pass

    async def _supervise(self, exc: Exception, message: Any) -> bool:
        """Apply the restart policy; True to keep running."""
        self._metrics.failures += 1
        now = time.monotonic()
        self._failure_times.append(now)
        while self._failure_times and now - self._failure_times[0] > self.policy.window_s:
            self._failure_times.popleft()
        restart = self.policy.on_failure == "restart" and len(self._failure_times) <= self.policy.max_restarts
        action = "restarted" if restart else "stopped"
        self.log.error("actor.handler_failed", message=type(message).__name__, action=action, exc_info=exc)
        self._publish(ActorFailed(actor=self.name, error=repr(exc), action=action))
        if restart:
            self._metrics.restarts += 1
            await self.on_restart(exc)
        return restart

    def _account(self, message: Any, elapsed: float, blocked: float) -> None:
        metrics = self._metrics
        metrics.handled += 1
        elapsed_ms = elapsed * 1000.0
        blocked_ms = blocked * 1000.0
        if blocked_ms >= self.slow_handler_ms:
            # Time spent awaiting (an order's acceptance, say) is not counted: only a stretch of code that
            # held the shared loop, delaying every other actor and socket, raises this.
            self.log.warning("actor.slow_handler", message=type(message).__name__, ms=round(blocked_ms, 1))
            self._publish(
                AlertRaised(
                    kind="slow_handler",
                    message=f"{self.name} blocked the event loop for {blocked_ms:.0f} ms "
                    f"handling {type(message).__name__}",
                    data={"actor": self.name, "ms": round(blocked_ms, 1)},
                )
            )
        if elapsed_ms > metrics.slowest_handler_ms:
            metrics.slowest_handler_ms = elapsed_ms
            metrics.slowest_message = type(message).__name__

    async def _shutdown(self, reason: str) -> None:
        if self.state is ActorState.STOPPED:
            return
        if self._inflight is not None:
            await asyncio.wait([self._inflight], timeout=10)
        for left in self.mailbox.close():
            if isinstance(left, _Ask) and not left.future.done():
                left.future.set_exception(ActorStoppedError(f"{self.name} stopped: {reason}"))
        try:
            await self.on_stop(reason)
        except Exception:
            self.log.exception("actor.on_stop_failed")
        self._finish(reason)

    def _finish(self, reason: str) -> None:
        self.state = ActorState.STOPPED
        self.stop_reason = reason
        self.mailbox.close()
        level = "warning" if reason.startswith(("failed", "stopped:")) else "info"
        getattr(self.log, level)("actor.stopped", reason=reason)
        self._publish(ActorStopped(actor=self.name, reason=reason))
        self._started.set()
        self._stopped.set()

    def _publish(self, event: Any) -> None:
        if self.bus is not None:
            self.bus.publish(event)

    # --- introspection ----------------------------------------------------------------------------

    @property
    def metrics(self) -> ActorMetrics:
        m = self._metrics
        m.control_depth = self.mailbox.control_depth
        m.data_depth = self.mailbox.data_depth
        m.coalesced_ticks = self.mailbox.coalesced_ticks
        return msgspec.structs.replace(m)

    async def wait_started(self) -> None:
        await self._started.wait()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    @property
    def running(self) -> bool:
        return self.state is ActorState.RUNNING
