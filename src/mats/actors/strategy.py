"""StrategyActor: hosts one ``BaseStrategy`` live, in its own mailbox.

Bars arrive on the data lane; order statuses, fills, scheduled jobs and stop on the control lane, so a
strategy always learns about a fill before it sees the next bar. A strategy that raises is stopped (or
restarted) by its actor's policy and reported; the engine and the other strategies carry on.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from mats.actors.base import Actor, RestartPolicy
from mats.actors.bus import EventBus
from mats.brokers.live import LiveBroker
from mats.brokers.schedule import ScheduledJob
from mats.instruments import Instrument
from mats.marketdata.aggregate import parse_bar_size
from mats.marketdata.feed import RealTimeBarFeed
from mats.messages import StrategyStatusChanged
from mats.model import Bar, Fill, OrderStatus, StrategySpec
from mats.strategy import BaseStrategy

STRATEGIES_PACKAGE = "strategies"


class InvalidStrategy(ValueError):
    """A registration that cannot run; ``field`` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class StrategyLoadError(InvalidStrategy):
    """A class reference that does not name a strategy inside the ``strategies`` package."""

    def __init__(self, message: str) -> None:
        super().__init__("cls", message)


class OrderStatusUpdate(msgspec.Struct, frozen=True):
    status: OrderStatus


class FillUpdate(msgspec.Struct, frozen=True):
    fill: Fill


class RunJob(msgspec.Struct, frozen=True):
    job_id: int


def load_strategy_class(ref: str) -> type[BaseStrategy]:
    """``strategies.sma_cross:SmaCross`` → the class. Only the ``strategies`` package is importable:
    nothing sent over the API is ever imported from elsewhere or executed as code."""
    module_name, sep, class_name = ref.partition(":")
    if not sep or not module_name or not class_name.isidentifier():
        raise StrategyLoadError(f"cls must look like 'strategies.module:Class', got {ref!r}")
    parts = module_name.split(".")
    if parts[0] != STRATEGIES_PACKAGE or len(parts) != 2 or not all(p.isidentifier() for p in parts):
        raise StrategyLoadError(
            f"strategies are loaded only from the '{STRATEGIES_PACKAGE}' package, got {ref!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StrategyLoadError(f"cannot import {module_name!r}: {exc}") from None
    except Exception as exc:  # a syntax error or a failing import inside the strategy file
        raise StrategyLoadError(f"{module_name!r} failed to load: {exc!r}") from None
    cls = getattr(module, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, BaseStrategy)) or cls is BaseStrategy:
        raise StrategyLoadError(f"{ref!r} is not a BaseStrategy subclass")
    return cls


def strategy_classes() -> list[tuple[str, str, dict[str, Any]]]:
    """(reference, first docstring line, default params) of each strategy defined in ``strategies/``."""
    package = importlib.import_module(STRATEGIES_PACKAGE)
    found = []
    for module_info in pkgutil.iter_modules(package.__path__):
        try:
            module = importlib.import_module(f"{STRATEGIES_PACKAGE}.{module_info.name}")
        except Exception:
            continue  # a broken file is reported when someone registers it, not here
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseStrategy)
                and cls is not BaseStrategy
                and cls.__module__ == module.__name__
            ):
                doc = (inspect.getdoc(cls) or "").split("\n", 1)[0]
                found.append((f"{module.__name__}:{name}", doc, dict(cls.params)))
    return sorted(found)


async def _maybe_await(result: Awaitable[Any] | Any) -> Any:
    if inspect.isawaitable(result):
        return await result
    return result


class StrategyActor(Actor):
    def __init__(
        self,
        spec: StrategySpec,
        broker: LiveBroker,
        *,
        instruments: Sequence[Instrument],
        bus: EventBus | None = None,
        policy: RestartPolicy | None = None,
        data_capacity: int = 10_000,
        on_stopped: Callable[[str, str], None] | None = None,
        feed: RealTimeBarFeed | None = None,
    ) -> None:
        super().__init__(f"strategy:{spec.strategy_id}", bus=bus, policy=policy, data_capacity=data_capacity)
        self.spec = spec
        self.broker = broker
        self.instruments = list(instruments)
        self.on_stopped = on_stopped
        self.feed = feed
        self.strategy: BaseStrategy | None = None
        self.bars_seen = 0
        self.last_bar: Bar | None = None
        self._jobs: dict[int, ScheduledJob] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self.log = self.log.bind(strategy_id=spec.strategy_id)

    @property
    def strategy_id(self) -> str:
        return self.spec.strategy_id

    async def on_start(self) -> None:
        self._status("starting")
        cls = load_strategy_class(self.spec.cls)
        self.strategy = cls(
            self.broker,
            strategy_id=self.spec.strategy_id,
            symbols=[inst.key for inst in self.instruments],
            params=self.spec.params,
            equity=self.spec.equity,
            target_weight=self.spec.target_weight,
        )
        await _maybe_await(self.strategy.initialize_strategy())
        if self.feed is not None:
            seconds = parse_bar_size(self.spec.bar_size)
            for instrument in self.instruments:
                await self.feed.subscribe(instrument, seconds, self.tell_now)
        self._status("running")

    async def on_stop(self, reason: str) -> None:
        if self.feed is not None:
            for instrument in self.instruments:
                self.feed.unsubscribe(instrument, self.tell_now)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.broker.unregister(self.spec.strategy_id)
        failed = reason.startswith(("failed", "stopped:"))
        self._status("failed" if failed else "stopped", reason)
        if self.on_stopped is not None:
            self.on_stopped(self.spec.strategy_id, reason)

    async def on_restart(self, error: BaseException) -> None:
        self._status("running", f"restarted after {error!r}")

    async def handle(self, message: Any) -> None:
        strategy = self.strategy
        assert strategy is not None
        match message:
            case Bar():
                self.bars_seen += 1
                self.last_bar = message
                await _maybe_await(strategy.run_strategy(message))
            case OrderStatusUpdate(status=status):
                self.broker.notify_status(status)  # the handle already has it (LiveTrading settles first)
            case FillUpdate(fill=fill):
                self.broker.on_fill(fill)
            case RunJob(job_id=job_id):
                job = self._jobs.get(job_id)
                if job is not None and not job.cancelled:
                    await _maybe_await(job.callback())
                    self._arm(job_id)

    # --- scheduling ---------------------------------------------------------------------------------

    def schedule(self, job: ScheduledJob) -> None:
        job_id = len(self._jobs) + 1
        self._jobs[job_id] = job
        self._arm(job_id)

    def _arm(self, job_id: int) -> None:
        job = self._jobs[job_id]
        if job.cancelled:
            return
        now = datetime.now(UTC)
        job.next_due = job.due_after(now)
        delay = max((job.next_due - now).total_seconds(), 0.0)
        loop = asyncio.get_running_loop()
        self._timers[job_id] = loop.call_later(delay, self._fire, job_id)

    def _fire(self, job_id: int) -> None:
        if self.running:
            self.tell_nowait(RunJob(job_id))

    def _status(self, status: str, reason: str = "") -> None:
        if self.bus is not None:
            self.bus.publish(
                StrategyStatusChanged(strategy_id=self.spec.strategy_id, status=status, reason=reason)
            )
