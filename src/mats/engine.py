"""Engine: builds, wires and supervises every actor on one event loop; owns start-up and shutdown.

Start-up and crash recovery are the same path (DESIGN.md section 1). Today the engine is the shell
that later pieces plug into: the event bus, the supervisor, the loop-lag monitor, signal handling and
``gc.freeze()`` once start-up is done. Components are started in order and stopped in reverse.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Protocol

import anyio
import structlog

from mats.actors.bus import EventBus
from mats.actors.supervisor import Supervisor
from mats.allocator import tune_malloc
from mats.config import Settings
from mats.gc_pacing import GcPacer
from mats.looplag import LoopLagMonitor
from mats.messages import AlertRaised

if TYPE_CHECKING:
    from mats.ib.hub import IBHub
    from mats.store.arctic import ArcticStore
    from mats.trading import LiveTrading

log = structlog.get_logger("mats.engine")
_SWITCH_INTERVAL_DEFAULT = sys.getswitchinterval()
# The journal and ArcticDB threads run Python too: when the loop thread gives up the GIL (every epoll, send,
# write) it can wait a whole switch interval (5 ms by default) to get it back. 0.5 ms cut the bar-to-order
# p99 from 6-7 ms to about 4 ms in bench/live_latency.py.
_SWITCH_INTERVAL = 0.0005


class Component(Protocol):
    """Something the engine starts after the actors' runtime is up and stops before it goes down."""

    name: str

    async def start(self, engine: Engine) -> None: ...

    async def stop(self) -> None: ...


class Engine:
    def __init__(self, settings: Settings, *, components: list[Component] | None = None) -> None:
        self.settings = settings
        self.bus = EventBus()
        self.supervisor = Supervisor()
        self.lag = LoopLagMonitor(on_alert=self._lag_alert)
        self.gc_pacer = GcPacer()
        self.components: list[Component] = list(components or [])
        self.hub: IBHub | None = None
        self.trading: LiveTrading | None = None
        self.store: ArcticStore | None = None
        self.ready = asyncio.Event()
        self.stopped = asyncio.Event()
        self.shutdown_reason = ""
        self._shutdown = asyncio.Event()
        self._signals_seen = 0

    def request_shutdown(self, reason: str = "requested") -> None:
        if not self._shutdown.is_set():
            self.shutdown_reason = reason
            log.info("engine.shutdown_requested", reason=reason)
            self._shutdown.set()

    async def run(
        self, *, handle_signals: bool = True, on_ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Run until ``request_shutdown`` (or SIGINT/SIGTERM); then stop everything in reverse order."""
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal, sig)
        tune_malloc()  # before the components start their threads: a heap that does not creep
        started: list[Component] = []
        try:
            async with self.supervisor, anyio.create_task_group() as tasks:
                tasks.start_soon(self.lag.run, name="loop-lag")
                try:
                    for component in self.components:
                        log.info("engine.component_starting", component=component.name)
                        await component.start(self)
                        started.append(component)
                except BaseException:
                    # what did start is stopped again (the store's namespace lease released, clients closed)
                    await self._stop_components(started)
                    raise
                # Start-up allocations are long-lived; freezing them keeps later GC pauses short.
                gc.collect()
                gc.freeze()
                # Young collections in small pieces between callbacks, not inside a bar's path to its order;
                # middle and full ones as rare as ever (a full one was measured at 87 ms of loop lag).
                self.gc_pacer.install()
                tasks.start_soon(self.gc_pacer.run, name="gc-pacer")
                sys.setswitchinterval(_SWITCH_INTERVAL)
                self.ready.set()
                log.info("engine.ready", components=[c.name for c in started])
                if on_ready is not None:
                    await on_ready()
                await self._shutdown.wait()
                await self._stop_components(started)
                await self.supervisor.stop_all(self.shutdown_reason or "shutdown")
                tasks.cancel_scope.cancel()
        finally:
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
            gc.unfreeze()
            self.gc_pacer.restore()
            sys.setswitchinterval(_SWITCH_INTERVAL_DEFAULT)
            self.stopped.set()
            log.info("engine.stopped", reason=self.shutdown_reason)

    async def _stop_components(self, started: list[Component]) -> None:
        for component in reversed(started):
            with anyio.CancelScope(shield=True), suppress(Exception):
                with anyio.fail_after(10):
                    await component.stop()
                log.info("engine.component_stopped", component=component.name)

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals_seen += 1
        if self._signals_seen == 1:
            self.request_shutdown(f"signal {sig.name}")
        else:
            log.warning("engine.shutdown_in_progress", signal=sig.name)

    def _lag_alert(self, lag_ms: float) -> None:
        self.bus.publish(
            AlertRaised(
                kind="loop_lag", message=f"event loop blocked for {lag_ms:.0f} ms", data={"lag_ms": lag_ms}
            )
        )
