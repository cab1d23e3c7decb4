"""Drives a strategy's ``run_strategy`` without an event loop.

A plain ``def`` is called directly. An ``async def`` is started with ``coro.send(None)``; when it
completes without suspending (the usual case: placing orders never waits in a backtest) that is all it
costs. When it awaits ``handle.filled()`` it is parked: the market moves on, bars for this strategy queue
(as in a live actor's mailbox, none is dropped), and it resumes once the order is done. Awaiting anything
else (``asyncio.sleep``, a network call) has no meaning in simulated time and stops the backtest loudly.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, cast

from mats.brokers.backtest import FillWaiter
from mats.strategy import BaseStrategy


class StrategySuspended(RuntimeError):
    """A strategy awaited something a backtest cannot provide."""


class StrategyDriver:
    def __init__(self, strategy: BaseStrategy, parked: list[StrategyDriver]) -> None:
        self.strategy = strategy
        self._run = strategy.run_strategy
        self._parked_list = parked
        self._coro: Coroutine[Any, Any, Any] | None = None
        self._waiter: FillWaiter | None = None
        self._backlog: deque[Any] = deque()
        self.is_async = inspect.iscoroutinefunction(self._run)

    @property
    def deliver(self) -> Callable[[Any], Any]:
        """The callable the replay hands each bar to: the bound method itself for a plain ``def``."""
        return self._deliver_async if self.is_async else self._run

    def _deliver_async(self, bar: Any) -> None:
        if self._coro is not None:
            self._backlog.append(bar)
            return
        coro = cast(Coroutine[Any, Any, Any], self._run(bar))
        try:
            yielded = coro.send(None)
        except StopIteration:
            return
        except RuntimeError as exc:
            raise self._explain(exc) from exc
        self._park(coro, yielded)

    def _explain(self, exc: RuntimeError) -> Exception:
        if "no running event loop" not in str(exc):
            return exc
        return StrategySuspended(
            f"{self.strategy.strategy_id}.run_strategy used asyncio ({exc}); a backtest drives strategies "
            "without an event loop, in simulated time: await only order handles and handle.filled()"
        )

    def _park(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        if not isinstance(yielded, FillWaiter):
            coro.close()
            raise StrategySuspended(
                f"{self.strategy.strategy_id}.run_strategy awaited {yielded!r}; in a backtest a strategy may "
                "await only its order handles and handle.filled() (time is simulated, there is no event loop)"
            )
        self._coro, self._waiter = coro, yielded
        if self not in self._parked_list:
            self._parked_list.append(self)

    def resume(self) -> None:
        """Continue a parked coroutine if what it waits for is done, then drain the queued bars."""
        if self._coro is None or self._waiter is None or not self._waiter.ready:
            return
        coro, self._coro, self._waiter = self._coro, None, None
        try:
            yielded = coro.send(None)
        except StopIteration:
            pass
        except RuntimeError as exc:
            raise self._explain(exc) from exc
        else:
            self._park(coro, yielded)
            return
        while self._backlog and self._coro is None:
            self._deliver_async(self._backlog.popleft())
        if self._coro is None and self in self._parked_list:
            self._parked_list.remove(self)

    def close(self) -> None:
        """At the end of the data: a strategy still waiting is abandoned (its order never filled)."""
        if self._coro is not None:
            self._coro.close()
            self._coro = None
