"""A dedicated thread that runs queued operations in groups and answers each caller's future on the loop.

The journal's durability comes from SQLite; its throughput comes from this shape. Callers enqueue and await a
future. The thread takes everything queued at once (up to ``max_group``), hands the whole group to ``execute``
(one transaction, one commit, one fsync), then resolves every future with a single hop back to the loop.
Calls that arrive while a commit is in progress therefore share the next one (group commit).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

Answer = tuple["Op", Any, BaseException | None]


class Op:
    """One queued call: ``fn(*args)``; ``writes`` says whether it belongs in the group's transaction."""

    __slots__ = ("args", "fn", "future", "writes")

    def __init__(
        self, fn: Callable[..., Any], args: tuple[Any, ...], future: asyncio.Future[Any], writes: bool
    ) -> None:
        self.fn = fn
        self.args = args
        self.future = future
        self.writes = writes


_STOP = object()


class GroupCommitter:
    """Runs ``execute(group)`` on its own thread; ``after()`` is sampled on the thread after each group and
    handed to ``on_answered`` on the loop once the group's futures are resolved."""

    def __init__(
        self,
        name: str,
        execute: Callable[[list[Op]], list[Answer]],
        *,
        after: Callable[[], Any],
        on_answered: Callable[[Any], None],
        max_group: int = 50_000,
    ) -> None:
        self.name = name
        self.max_group = max_group
        self._execute = execute
        self._after = after
        self._on_answered = on_answered
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, writes: bool) -> asyncio.Future[Any]:
        if self._thread is None or self._loop is None:
            raise RuntimeError(f"{self.name} is not running")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._queue.put(Op(fn, args, future, writes))
        return future

    async def stop(self) -> None:
        """Let the queued operations finish, then end the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group: list[Op] = [first]
            while len(group) < self.max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._queue.put(_STOP)
                    break
                group.append(nxt)
            answers = self._execute(group)
            state = self._after()
            loop = self._loop
            if loop is None:
                continue
            try:
                loop.call_soon_threadsafe(self._resolve, answers, state)
            except RuntimeError:  # the loop is gone (shutdown): the work is done, nobody is waiting
                pass

    def _resolve(self, answers: list[Answer], state: Any) -> None:
        for op, value, exc in answers:
            if op.future.done():  # the caller was cancelled; the work stands
                continue
            if exc is not None:
                op.future.set_exception(exc)
            else:
                op.future.set_result(value)
        self._on_answered(state)
