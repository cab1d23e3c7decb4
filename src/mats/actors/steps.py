"""Driving a handler's coroutine by hand: timing its synchronous steps, and starting it in a caller's turn.

An actor awaits its handler through ``TimedSteps`` to learn the longest stretch it held the loop. A
message handled in its sender's turn (``Actor.tell_now``) runs its first step through ``Turn``, as the
first step of the task that will run the rest: the task is made current for that step, as Python 3.12's
eager tasks are, so ``current_task()`` and any cancel scope entered there belong to that task.
"""

from __future__ import annotations

import asyncio
import time
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Coroutine, Generator
from typing import Any

_NOT_STARTED = object()


class Turn:
    """A handler begun in a caller's turn: how far it got."""

    __slots__ = ("coro", "error", "finished", "first_step", "pending", "result")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.pending: Any = None  # what it waits on, if it suspended
        self.finished = False
        self.result: Any = None
        self.error: Exception | None = None
        self.first_step = 0.0

    def run_first_step_as(self, task: asyncio.Task[Any]) -> None:
        """Run the coroutine up to its first suspension now, with ``task`` current (the caller's task, if
        any, is current again afterwards)."""
        loop = task.get_loop()
        caller = asyncio.current_task(loop)
        if caller is not None:
            _leave_task(loop, caller)
        _enter_task(loop, task)
        try:
            self.pending = self.coro.send(None)
        except StopIteration as done:
            self.finished, self.result = True, done.value
        except Exception as exc:
            self.finished, self.error = True, exc
        finally:
            _leave_task(loop, task)
            if caller is not None:
                _enter_task(loop, caller)


class TimedSteps:
    """Awaits a coroutine while timing each synchronous step between its suspensions.

    ``longest`` is the longest stretch the coroutine held the event loop: what blocked everybody else,
    as opposed to the handler's wall time, which includes waiting politely for I/O.
    """

    __slots__ = ("coro", "longest", "pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any = None, *, started: bool = False) -> None:
        self.coro = coro
        self.longest = 0.0
        self.pending = pending if started else _NOT_STARTED  # what a started coroutine is waiting on

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, send, error = self.coro, None, None
        if self.pending is not _NOT_STARTED:  # begun in a caller's turn: wait for what it waits on first
            try:
                send = yield self.pending
            except BaseException as exc:
                error = exc
        while True:
            started = time.perf_counter()
            try:
                yielded = coro.throw(error) if error is not None else coro.send(send)
            except StopIteration as done:
                self.longest = max(self.longest, time.perf_counter() - started)
                return done.value
            except BaseException:
                self.longest = max(self.longest, time.perf_counter() - started)
                raise
            self.longest = max(self.longest, time.perf_counter() - started)
            try:
                send, error = (yield yielded), None
            except BaseException as exc:  # cancellation (or a throw) goes on into the coroutine
                send, error = None, exc
