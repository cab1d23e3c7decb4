"""Live-path latency: a bar read off the socket → the order written to it, order → fill → position, and
98 strategies on a 32-client gateway at 5,000 bars/s, with the simulator on loopback in its own process.

    .venv/bin/python bench/live_latency.py [--bars 1000] [--strategies 98] [--rate 5000] [--seconds 10]
                                           [--sim-in-process] [--no-pin] [--uvloop] [--flush-ms MS]

1. Tick to order. The engine trades ``strategies.pulse:Pulse`` (an order on every bar) on 5-second bars
   built from IB real-time bars. The simulator runs in its own process, as IB Gateway does, its clock at
   200x so a 5-second bar arrives every 25 ms, its prices frozen (moving 200x as fast, they made it push
   the account and portfolio 200x as often as IB does); ``--sim-in-process``: on the engine's loop, its
   clock paused and stepped one bar at a time. Timestamps: when client 0's socket delivered the bytes
   holding the bar (``Connection.data_received`` emitting ``hasData``), and when the strategy's own client
   issued the write of the placeOrder (``Connection.sendMsg``, before the syscall: the write wakes the
   simulator's process, which a busy kernel may run before returning to us). Between them: ib_async's
   decoder, the bar feed, the strategy's mailbox, the strategy, the LiveBroker, the TradeManager's risk
   check and its journal intent (the order is durable before it is sent), and the order's encoding. Then
   the same again with the order waiting for its SQLite commit instead (the path before the intent log),
   and the loop thread's CPU time over each span (wall time minus CPU time is time descheduled or waiting
   for the GIL: on a shared 2-core box, most of the p99).
2. Order → fill → position: from that socket write to the recorder's ``OrderFilled`` and the
   PortfolioManager's ``PositionChanged`` (bus publish times).
3. Load: 98 strategies (SmaCross 10/50, qty 1) on 30 pooled strategy clients (``ib.max_clients =
   32``), fed bars with ``actor.tell_now`` (as the bar feed does) at ``--rate`` bars/s in total for
   ``--seconds``, twice: closes that only rise (no crosses: bars alone), then random walks (crosses:
   orders, fills, journal and portfolio on the same loop). Loop lag is sampled every 50 ms (as the
   engine's monitor does) and every 5 ms (a probe), mailbox depths every 0.5 s, and the loop thread's
   CPU time in every loop iteration (the loop's own work, apart from waiting for a CPU); each phase also
   lists the loop callbacks over 2 ms (wall and CPU) and every thread's CPU time, with the VM's steal.

The simulator runs on the last CPU and the engine on the others, as a latency-minded deployment runs IB
Gateway and MATS (``taskset``, docs/live-trading.md); ``--no-pin`` lets them share every CPU. ``--uvloop``
runs everything on uvloop's loop. A thousand bars, so the p99 rests on ten spans, not on three.

Each figure is printed beside a bare asyncio baseline measured in the same run: a protocol whose
``data_received`` hands the bytes to a task through an ``asyncio.Queue`` and that task writes a reply
(the least an actor design can do), a loopback round trip, and 98 bare queue-consumer tasks at the same
rate. Goals (issue 7): tick-to-order p99 < 1 ms; loop lag p99 < 5 ms with 98 strategies; mailboxes do
not grow.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from mats.config import StorageSettings, load_settings
from mats.engine import Engine
from mats.ib import Backoff
from mats.launch import live_engine
from mats.logging import configure_logging
from mats.looplag import LagStats, LoopLagMonitor
from mats.messages import OrderFilled, PositionChanged
from mats.model import Bar, StrategySpec
from mats.sim import SimServer
from mats.sim.clock import VirtualClock
from mats.storage import StoreComponent
from mats.trading import LiveTrading

TICK_TO_ORDER_P99_GOAL_MS = 1.0
LOOP_LAG_P99_GOAL_MS = 5.0
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
FAST = Backoff(initial=0.05, maximum=0.3, client_id_in_use=0.1)
PLACE_ORDER = b"3\0"  # ib_async's outgoing message id for placeOrder
ORDERS_PER_SECOND = 40.0  # part 1's bars, each an order: under IB's 50 messages/s per client


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.3f} ms"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_engine(
    sim: SimServer | SimProcess,
    data_dir: Path,
    specs: list[StrategySpec],
    storage: dict[str, int] | None = None,
) -> tuple[Engine, LiveTrading, asyncio.Task[None]]:
    """The engine ``mats serve`` runs, its ArcticDB store included (the flusher's appends and compactions
    share the machine with the loop, as in production). ``storage``: the engine's ``[storage]`` settings
    that differ from the defaults (``--flush-ms``, ``--storage-nice``)."""
    overrides: dict[str, Any] = {"data_dir": str(data_dir), "storage": storage or {}}
    settings = load_settings(None, environ={}, overrides=overrides)
    ib = msgspec.structs.replace(settings.ib, port=sim.port, connect_timeout=5.0, max_clients=32)
    store = StoreComponent(
        settings.resolved_arctic_uri, settings.storage.namespace, thread_nice=settings.storage.thread_nice
    )
    settings = msgspec.structs.replace(settings, ib=ib, strategies=specs)
    engine, trading = live_engine(settings, store=store, backoff=FAST)
    task = asyncio.create_task(engine.run(handle_signals=False))
    await asyncio.wait_for(engine.ready.wait(), 60)
    return engine, trading, task


class SimProcess:
    """``mats sim`` in its own process, as IB Gateway is in production: its work is not MATS's loop lag."""

    def __init__(self, *args: str, cpu: int | None = None) -> None:
        self.port = free_port()
        self.cpu = cpu  # pinned: the CPU its process runs on (the engine is on the others); None: any
        self.args = args or ("--price-interval", "0")
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> SimProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mats.cli", "sim", "--port", str(self.port), *self.args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if self.cpu is not None:
            os.sched_setaffinity(self.proc.pid, {self.cpu})
        assert self.proc.stdout is not None
        while b"listening" not in await asyncio.wait_for(self.proc.stdout.readline(), 60):
            pass
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


def simulator(in_process: bool, cpu: int | None = None) -> Any:
    if in_process:
        return SimServer(port=free_port(), price_interval=0, account_push_interval=0.25)
    return SimProcess(cpu=cpu)


async def stop_engine(engine: Engine, task: asyncio.Task[None]) -> None:
    engine.request_shutdown("benchmark over")
    await asyncio.wait_for(task, 30)


# --- baselines ------------------------------------------------------------------------------------


async def bare_socket_baseline(count: int) -> tuple[list[float], list[float]]:
    """A loopback 'bar' read by a protocol, handed to a task through a queue, answered by a write;
    returns (read → write) and (write → next read, the round trip) in seconds."""

    async def market(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readexactly(8):
                writer.write(b"bar:0042")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(market, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[float] = asyncio.Queue()
    hops: list[float] = []
    trips: list[float] = []
    done = loop.create_future()

    class Client(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.sent = time.perf_counter()
            transport.write(b"order:01")

        def data_received(self, data: bytes) -> None:
            now = time.perf_counter()
            trips.append(now - self.sent)
            inbox.put_nowait(now)

    transport, client = await loop.create_connection(Client, "127.0.0.1", port)

    async def strategy() -> None:
        while len(hops) < count:
            read_at = await inbox.get()
            transport.write(b"order:01")
            client.sent = time.perf_counter()
            hops.append(client.sent - read_at)
        done.set_result(None)

    worker = asyncio.create_task(strategy())
    await asyncio.wait_for(done, 30)
    await worker
    transport.close()
    server.close()
    await server.wait_closed()
    return hops, trips


async def bare_actors_baseline(actors: int, rate: float, seconds: float) -> tuple[LagStats, LagStats]:
    """``actors`` tasks consuming asyncio.Queues fed at ``rate`` items/s: loop lag at 50 ms and 5 ms."""
    queues: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(actors)]

    async def consume(q: asyncio.Queue[int]) -> None:
        while True:
            await q.get()

    consumers = [asyncio.create_task(consume(q)) for q in queues]
    coarse, fine = LoopLagMonitor(interval=0.05), LoopLagMonitor(interval=0.005)
    monitors = [asyncio.create_task(coarse.run()), asyncio.create_task(fine.run())]
    await feed(lambda k: queues[k % actors].put_nowait(k), rate, seconds, lambda: None)
    for task in (*consumers, *monitors):
        task.cancel()
    await asyncio.gather(*consumers, *monitors, return_exceptions=True)
    return coarse.stats(), fine.stats()


async def feed(send: Callable[[int], Any], rate: float, seconds: float, sample: Callable[[], None]) -> int:
    """Call ``send(k)`` for k = 0, 1, … at ``rate`` per second for ``seconds``, in 2 ms batches.

    A batch is at most twice its share: after a stall the feed catches up over the next batches, as
    the IB reader hands bars on (a budget's worth per loop iteration), not all in one callback."""
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    most = max(1, int(rate * 0.002 * 2))
    started = loop.time()
    next_sample = started
    sent = 0
    while sent < total:
        now = loop.time()
        due = min(total, int((now - started) * rate), sent + most)
        for k in range(sent, due):
            send(k)
        sent = due
        if now >= next_sample:
            sample()
            next_sample += 0.5
        await asyncio.sleep(0.002)
    return sent


# --- 1 + 2: tick → order → fill → position -------------------------------------------------------


class LoopThreadSchedule:
    """The loop thread's own scheduler accounting (``/proc/self/task/TID/schedstat``): nanoseconds run on
    a CPU and waited on a run queue. Over a span, wall − ran − queued is time the thread was blocked (the
    GIL, a lock, I/O); queued is time the kernel ran something else on its CPU. Empty where /proc is not."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open(
                f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY
            )
        except OSError:
            self._fd = None

    def read(self) -> tuple[float, float]:
        """(seconds run, seconds queued) so far; (0, 0) where unavailable."""
        if self._fd is None:
            return 0.0, 0.0
        ran, queued = os.pread(self._fd, 64, 0).split()[:2]
        return int(ran) / 1e9, int(queued) / 1e9

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def tick_to_order(
    bars: int,
    data_dir: Path,
    *,
    commit_first: bool = False,
    in_process: bool = False,
    storage: dict[str, int] | None = None,
    sim_cpu: int | None = None,
) -> dict[str, list[float]]:
    """``commit_first``: the earlier path, for comparison in the same run: the order waits for the SQLite
    commit of its PendingSubmit event on the journal thread instead of the intent log's write.

    The simulator runs in its own process (as IB Gateway does), its clock at ``ORDERS_PER_SECOND`` 5-second
    bars per second; ``in_process`` puts it on the engine's loop with its clock paused and stepped, one bar
    at a time (its own work then lands inside the measured spans)."""
    sim: SimServer | SimProcess
    if in_process:
        clock = VirtualClock(start=START, running=False)
        sim = SimServer(
            port=free_port(), clock=clock, price_interval=1.0, account_push_interval=0.01, day_end=""
        )
    else:
        speed = str(5 * ORDERS_PER_SECOND)  # one 5-second bar per order slot
        sim = SimProcess(
            "--speed", speed, "--start", START.isoformat(), "--day-end", "", "--price-interval", "0",
            cpu=sim_cpu,
        )  # fmt: skip
    async with sim:
        spec = StrategySpec(
            "probe", "strategies.pulse:Pulse", ["AAPL"], {"qty": 1, "every": 1}, bar_size="5s", autostart=True
        )
        engine, trading, task = await start_engine(sim, data_dir, [spec], storage)
        try:
            return await _measure_tick_to_order(sim, engine, trading, bars, commit_first)
        finally:
            await stop_engine(engine, task)


async def _measure_tick_to_order(
    sim: SimServer | SimProcess, engine: Engine, trading: LiveTrading, bars: int, commit_first: bool = False
) -> dict[str, list[float]]:
    assert engine.hub is not None and engine.hub.engine.ib is not None
    loop = asyncio.get_running_loop()
    bar_socket = engine.hub.engine.ib.client.conn  # client 0 carries the real-time bars
    own = await engine.hub.client_for("probe")
    assert own.ib is not None
    order_socket = own.ib.client.conn
    actor = trading.actors["probe"]
    state: dict[str, Any] = {
        "read": 0.0,
        "read_cpu": 0.0,
        "bar_read_cpu": 0.0,
        "bar_read": None,
        "handled": None,
        "write": None,
        "fill": None,
        "waiter": None,
    }
    out: dict[str, list[float]] = {
        "tick_to_order": [],
        "tick_to_order_cpu": [],  # the loop thread's CPU time over the same span: wall minus this = waiting
        "tick_to_order_queued": [],  # … of which on a run queue, behind another thread or process
        "tick_to_order_ran": [],  # the scheduler's run time over the span
        "tick_to_strategy": [],
        "gc_in_span": [],  # 1.0 where a garbage collection ran inside the span, else 0.0
        "order_to_fill": [],
        "order_to_position": [],
        "journal": [],
    }

    bar_reader = engine.hub.engine.reader  # fed by the socket's data_received, on every event loop
    assert bar_reader is not None
    collections = [0]

    def count_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[0] += 1

    gc.callbacks.append(count_collection)

    schedule = LoopThreadSchedule()

    def data_received(data: bytes) -> None:
        state["read_sched"] = schedule.read()  # before the stamp: its system call is not in the span
        state["read"] = time.perf_counter()
        state["read_cpu"] = time.thread_time()
        bar_reader.feed(data)

    def delivered(deliver: Callable[[Any], None]) -> Callable[[Any], None]:
        def deliver_timed(bar: Any) -> None:
            state["bar_read"] = state["read"]  # decoded synchronously inside data_received: same read
            state["bar_read_cpu"] = state["read_cpu"]
            state["bar_read_sched"] = state["read_sched"]
            state["bar_gc"] = collections[0]
            deliver(bar)

        return deliver_timed

    assert actor.strategy is not None
    run_strategy = actor.strategy.run_strategy

    def timed_run_strategy(bar: Bar) -> Any:
        state["handled"] = time.perf_counter()
        return run_strategy(bar)

    journal = trading.journal
    assert journal is not None
    record_order_intent = journal.record_order_event if commit_first else journal.record_order_intent

    async def timed_record_order_intent(status: Any) -> Any:
        started = time.perf_counter()
        try:
            return await record_order_intent(status)
        finally:
            out["journal"].append(time.perf_counter() - started)

    send = order_socket.sendMsg

    def send_msg(msg: bytes) -> None:
        # Timed as the write is issued: with the simulator in another process, the write's syscall wakes
        # it, and on a busy box the kernel may run it before returning here (not MATS's time).
        if msg[4:6] == PLACE_ORDER and state["bar_read"] is not None:
            state["write"] = time.perf_counter()
            out["tick_to_order"].append(state["write"] - state["bar_read"])
            out["tick_to_order_cpu"].append(time.thread_time() - state["bar_read_cpu"])
            out["tick_to_strategy"].append(state["handled"] - state["bar_read"])
            out["gc_in_span"].append(float(collections[0] != state["bar_gc"]))
            (ran, queued), (ran0, queued0) = schedule.read(), state["bar_read_sched"]
            out["tick_to_order_ran"].append(ran - ran0)
            out["tick_to_order_queued"].append(queued - queued0)
            state["bar_read"] = None
        send(msg)

    publish = engine.bus.publish

    def bus_publish(event: Any, **kwargs: Any) -> Any:
        now = time.perf_counter()
        if isinstance(event, OrderFilled) and event.fill.strategy_id == "probe":
            state["fill"] = now
        elif isinstance(event, PositionChanged) and event.position.strategy_id == "probe":
            if state["write"] is not None and state["fill"] is not None:
                out["order_to_fill"].append(state["fill"] - state["write"])
                out["order_to_position"].append(now - state["write"])
            waiter = state["waiter"]
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        return publish(event, **kwargs)

    bar_socket.hasData -= bar_reader.feed  # uvloop binds data_received at connect: hook the step after it
    bar_socket.hasData += data_received
    assert trading.feed is not None
    for stream in trading.feed._streams.values():  # where the feed hands each bar to the strategy
        for delivers in stream.subscribers.values():
            delivers[:] = [delivered(d) if d == actor.tell_now else d for d in delivers]
    order_socket.sendMsg = send_msg
    actor.strategy.run_strategy = timed_run_strategy
    journal.record_order_intent = timed_record_order_intent
    engine.bus.publish = bus_publish
    throttled = [0]
    own.ib.client.throttleStart += lambda: throttled.__setitem__(0, throttled[0] + 1)
    warmup = 20
    next_bar = loop.time()
    for i in range(bars + warmup):
        if i == warmup:
            for samples in out.values():
                samples.clear()
            throttled[0] = 0
        # IB takes 50 messages/s per client and ib_async holds back what is over 45/s: bars come at
        # 40/s, so what is measured is latency, never that queue.
        state["waiter"] = loop.create_future()
        if isinstance(sim, SimServer):
            await asyncio.sleep(max(0.0, next_bar - loop.time()))
            next_bar = loop.time() + 1 / ORDERS_PER_SECOND
            state["write"] = state["fill"] = None
            sim.control.advance(5)  # one 5-second real-time bar → one strategy bar → one order
        await asyncio.wait_for(state["waiter"], 10)  # the next order's position
    gc.callbacks.remove(count_collection)
    schedule.close()
    out["throttled"] = [float(throttled[0])]
    return out


# --- 3: 98 strategies -----------------------------------------------------------------------------


async def load(
    strategies: int,
    rate: float,
    seconds: float,
    data_dir: Path,
    *,
    in_process: bool = False,
    storage: dict[str, int] | None = None,
    sim_cpu: int | None = None,
) -> dict[str, Any]:
    """Two feeds into the same 98 strategies: closes that only rise (SmaCross never crosses, so this is
    bars alone), then random walks (they cross and trade: orders, fills, journal, portfolio)."""
    symbols = ["AAPL", "MSFT", "SPY"]
    specs = [
        StrategySpec(
            f"s{n:02d}",
            "strategies.sma_cross:SmaCross",
            [symbols[n % len(symbols)]],
            {"fast": 10, "slow": 50, "qty": 1},
            bar_size="1d",  # the simulator's own bars (one a session) never mix with the bars fed here
            autostart=True,
        )
        for n in range(strategies)
    ]
    steps = int(rate * seconds) // strategies + 1
    rising = 100.0 + 0.01 * np.arange(steps)[:, None] + np.zeros(strategies)
    walks = rising[-1] * np.exp(np.cumsum(np.random.default_rng(7).normal(0.0, 0.002, rising.shape), 0))
    async with simulator(in_process, sim_cpu) as sim:
        started = time.perf_counter()
        engine, trading, task = await start_engine(sim, data_dir, specs, storage)
        startup = time.perf_counter() - started
        try:
            assert engine.hub is not None
            actors = [trading.actors[s.strategy_id] for s in specs]
            out: dict[str, Any] = {"startup": startup, "clients": engine.hub.allocator.connections}
            for name, closes in (("bars only", rising), ("bars and trading", walks)):
                out[name] = await _feed_strategies(trading, actors, closes, rate, seconds)
            out["engine_lag"] = engine.lag.stats()
            return out
        finally:
            await stop_engine(engine, task)


async def _feed_strategies(
    trading: LiveTrading,
    actors: list[Any],
    closes: np.ndarray,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    n = len(actors)
    total = int(rate * seconds)
    bars = [
        Bar(
            symbol=actors[k % n].spec.symbols[0],
            time=START + timedelta(seconds=k // n),
            open=float(closes[k // n, k % n]),
            high=float(closes[k // n, k % n]),
            low=float(closes[k // n, k % n]),
            close=float(closes[k // n, k % n]),
        )
        for k in range(total)
    ]
    handled_before = sum(a.metrics.handled for a in actors)
    orders_before = len(trading.trades.orders) if trading.trades is not None else 0
    fills_before = len(trading.portfolio.fills()) if trading.portfolio is not None else 0
    depths: list[tuple[float, int, int]] = []
    t0 = time.perf_counter()

    def sample() -> None:
        data = [a.mailbox.data_depth for a in actors]
        depths.append((time.perf_counter() - t0, sum(data), max(data)))

    coarse, fine = LoopLagMonitor(interval=0.05), LoopLagMonitor(interval=0.005)
    monitors = [asyncio.create_task(coarse.run()), asyncio.create_task(fine.run())]
    pauses, iterations, slow, threads = GcPauses(), IterationCpu(), SlowCallbacks(), ThreadCpu()
    with pauses, iterations, slow, threads:
        sent = await feed(lambda k: actors[k % n].tell_now(bars[k]), rate, seconds, sample)
    feed_seconds = time.perf_counter() - t0
    sample()
    drain_started = time.perf_counter()
    deadline = drain_started + 10
    while any(a.mailbox.data_depth for a in actors) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.001)  # a benchmark may poll; tests wait on events
    drain = time.perf_counter() - drain_started
    for monitor in monitors:
        monitor.cancel()
    await asyncio.gather(*monitors, return_exceptions=True)
    fills = len(trading.portfolio.fills()) if trading.portfolio is not None else 0
    return {
        "sent": sent,
        "feed_seconds": feed_seconds,
        "handled": sum(a.metrics.handled for a in actors) - handled_before,
        "running": sum(a.running for a in actors),
        "depths": depths,
        "drain": drain,
        "coarse": coarse.stats(),
        "fine": fine.stats(),
        "slowest_ms": max(a.metrics.slowest_handler_ms for a in actors),
        "orders": (len(trading.trades.orders) if trading.trades is not None else 0) - orders_before,
        "fills": fills - fills_before,
        "gc": pauses,
        "iterations": iterations,
        "slow": slow,
        "threads": threads,
    }


class GcPauses:
    """Garbage-collector pauses while active: how many, and the longest (a lag spike's usual suspect)."""

    def __init__(self) -> None:
        self.count = 0
        self.longest = 0.0
        self.full = 0  # generation-2 collections
        self.longest_full = 0.0
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        self.count += 1
        self.longest = max(self.longest, took)
        if info.get("generation") == 2:
            self.full += 1
            self.longest_full = max(self.longest_full, took)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


class IterationCpu:
    """The loop thread's CPU time in each loop iteration while active: the loop's own work, which MATS
    controls, apart from the time the process waits for a CPU (on a shared box, most of a lag spike)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._original: Any = None

    def __enter__(self) -> IterationCpu:
        loop_class = type(asyncio.get_running_loop())
        if not hasattr(loop_class, "_run_once"):  # uvloop's iterations are in C: not measured
            return self
        original = self._original = loop_class._run_once  # type: ignore[attr-defined]
        samples = self.samples

        def run_once(loop: Any) -> None:
            started = time.thread_time()
            original(loop)
            samples.append(time.thread_time() - started)

        loop_class._run_once = run_once  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._original is not None:
            type(asyncio.get_running_loop())._run_once = self._original  # type: ignore[attr-defined]

    def over(self, seconds: float) -> int:
        return sum(1 for s in self.samples if s > seconds)


class SlowCallbacks:
    """Every loop callback that took longer than ``threshold`` while active, by name, with its wall and
    thread CPU time: which of the engine's work (a strategy, the flusher's wake-up, a socket read) makes a
    lag spike, and whether it was our own CPU or a wait (descheduled, or the GIL held by another thread)."""

    def __init__(self, threshold: float = 0.002) -> None:
        self.threshold = threshold
        self.slow: list[tuple[str, float, float]] = []  # (callback, wall, cpu)
        self._original: Any = None

    def __enter__(self) -> SlowCallbacks:
        original = self._original = asyncio.events.Handle._run
        slow, threshold = self.slow, self.threshold

        def run(handle: asyncio.events.Handle) -> None:
            wall, cpu = time.perf_counter(), time.thread_time()
            original(handle)
            wall = time.perf_counter() - wall
            if wall > threshold:
                slow.append((callback_name(handle), wall, time.thread_time() - cpu))

        asyncio.events.Handle._run = run  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.events.Handle._run = self._original  # type: ignore[method-assign]

    def worst(self, n: int = 8) -> list[tuple[str, int, float, float]]:
        """(callback, count, worst wall, its CPU), the callbacks with the most slow runs first."""
        by_name: dict[str, list[tuple[float, float]]] = {}
        for name, wall, cpu in self.slow:
            by_name.setdefault(name, []).append((wall, cpu))
        rows = [(name, len(runs), *max(runs)) for name, runs in by_name.items()]
        return sorted(rows, key=lambda r: (-r[1], -r[2]))[:n]


class ThreadCpu:
    """CPU seconds each of this process's threads used while active (``/proc/self/task``), summed by
    thread name, and the machine's steal time (a VM's CPU taken by its host): who shares the engine's
    CPU with the loop."""

    def __init__(self) -> None:
        self.used: dict[str, float] = {}
        self.steal = 0.0
        self._before: dict[str, tuple[str, float]] = {}
        self._steal_before = 0.0

    @staticmethod
    def _threads() -> dict[str, tuple[str, float]]:
        ticks = os.sysconf("SC_CLK_TCK")
        python_names = {str(t.native_id): t.name for t in threading.enumerate()}
        python_names[str(threading.get_native_id())] = "loop"
        out = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name = python_names.get(tid) or stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            out[tid] = (name, (int(fields[11]) + int(fields[12])) / ticks)
        return out

    @staticmethod
    def _steal_seconds() -> float:
        with open("/proc/stat") as f:
            cpu = f.readline().split()
        return int(cpu[8]) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> ThreadCpu:
        self._before, self._steal_before = self._threads(), self._steal_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        for tid, (name, cpu) in self._threads().items():
            group = name.rstrip("0123456789_-") or name
            used = cpu - self._before.get(tid, (name, 0.0))[1]
            self.used[group] = self.used.get(group, 0.0) + used
        self.steal = self._steal_seconds() - self._steal_before


def callback_name(handle: asyncio.events.Handle) -> str:
    """A task's coroutine (``Flusher.run``), or the callback's qualified name (``_SelectorSocketTransport
    ._read_ready``)."""
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        return getattr(coro, "__qualname__", repr(coro))
    return getattr(callback, "__qualname__", repr(callback))


def grew(depths: list[tuple[float, int, int]]) -> bool:
    """Did the total depth trend upwards while bars were fed (last third against the first third)?"""
    totals = [total for _, total, _ in depths[:-1]] or [0]
    third = max(1, len(totals) // 3)
    first, last = max(totals[:third]), max(totals[-third:])
    return last > 2 * first + 100


# --- main -----------------------------------------------------------------------------------------


def spread(samples: list[float]) -> str:
    return f"p50 {ms(pct(samples, 0.5))}   p99 {ms(pct(samples, 0.99))}"


def lag(stats: LagStats) -> str:
    return f"p50 {stats.p50_ms:6.2f} ms   p99 {stats.p99_ms:6.2f} ms   max {stats.max_ms:6.2f} ms"


def print_schedule(spans: list[float], ran: list[float], queued: list[float], unqueued: list[float]) -> None:
    """Where the slowest 1% of spans went, by the loop thread's scheduler accounting: on a CPU, on a run
    queue behind something else (another process or thread on its CPU), or blocked (the GIL, a lock)."""
    if not any(ran):
        return  # no /proc schedstat here
    slow = sorted(range(len(spans)), key=spans.__getitem__)[-max(1, len(spans) // 100) :]
    wall = behind = on_cpu = 0.0
    for i in slow:  # the kernel updates schedstat at scheduling events: clamp each span's parts to its wall
        q = min(queued[i], spans[i])
        wall, behind, on_cpu = wall + spans[i], behind + q, on_cpu + min(ran[i], spans[i] - q)
    blocked = wall - on_cpu - behind
    print(
        f"     slowest 1% ({len(slow)} spans, {wall * 1000:.1f} ms): on a CPU {on_cpu / wall:.0%} (stolen "
        f"time included), queued behind another task {behind / wall:.0%}, blocked (GIL, lock) "
        f"{blocked / wall:.0%}"
    )
    print(f"     minus run-queue waits {spread(unqueued)}")


async def main(args: argparse.Namespace) -> int:
    configure_logging(level="error")
    pinned, sim_cpu = "", None
    if args.pin and len(os.sched_getaffinity(0)) >= 2:
        cpus = sorted(os.sched_getaffinity(0))
        sim_cpu = cpus[-1]
        os.sched_setaffinity(0, set(cpus[:-1]))  # before the engine starts its threads: they inherit it
        pinned = f"; engine pinned to CPU {cpus[:-1]}, simulator to CPU {cpus[-1]}"
    print(
        f"MATS live latency, Python {sys.version.split()[0]}, simulator "
        f"{'on the engine loop' if args.sim_in_process else 'in its own process'} on loopback; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start{pinned}\n"
    )
    hops, trips = await bare_socket_baseline(args.bars)
    with tempfile.TemporaryDirectory() as tmp:
        storage = {"thread_nice": args.storage_nice}
        if args.flush_ms is not None:
            storage["flush_interval_ms"] = args.flush_ms
        engine_options = {"in_process": args.sim_in_process, "storage": storage, "sim_cpu": sim_cpu}
        t = await tick_to_order(args.bars, Path(tmp) / "latency", **engine_options)
        t_commit = await tick_to_order(
            args.bars, Path(tmp) / "latency_commit", commit_first=True, **engine_options
        )
        bare_coarse, bare_fine = await bare_actors_baseline(
            args.strategies, args.rate, min(args.seconds, 3.0)
        )
        r = await load(args.strategies, args.rate, args.seconds, Path(tmp) / "load", **engine_options)

    t2o, t2s = t["tick_to_order"], t["tick_to_strategy"]
    o2f, o2p = t["order_to_fill"], t["order_to_position"]
    print(f"1. bar read off client 0's socket → placeOrder written by the strategy's client, {len(t2o)} bars")
    print(f"   MATS             {spread(t2o)}   max {ms(max(t2o))}")
    print(f"     loop CPU time    {spread(t['tick_to_order_cpu'])}   (wall − CPU = descheduled or GIL)")
    print(f"     read → strategy  {spread(t2s)}")
    print(f"     journal intent   {spread(t['journal'])}   (the order is durable before it is sent)")
    print(f"     slowest five     {', '.join(f'{x * 1000:.2f}' for x in sorted(t2o)[-5:])} ms")
    unqueued = [span - q for span, q in zip(t2o, t["tick_to_order_queued"], strict=True)]
    print_schedule(t2o, t["tick_to_order_ran"], t["tick_to_order_queued"], unqueued)
    with_gc = [x for x, g in zip(t2o, t["gc_in_span"], strict=True) if g]
    without_gc = [x for x, g in zip(t2o, t["gc_in_span"], strict=True) if not g]
    print(
        f"     a collection ran in {len(with_gc)} of {len(t2o)} spans"
        + (f" (p50 {ms(pct(with_gc, 0.5))})" if with_gc else "")
        + (f"; the others {spread(without_gc)}" if without_gc else "")
    )
    c2o = t_commit["tick_to_order"]
    print("   the same, waiting for the SQLite commit instead of the intent log (the path before issue 7):")
    print(f"     MATS, commit     {spread(c2o)}   max {ms(max(c2o))}")
    print(f"     journal commit   {spread(t_commit['journal'])}")
    print(f"   bare asyncio     {spread(hops)}   (read → queue → task → write)")
    ratio_p50, ratio_p99 = pct(t2o, 0.5) / pct(hops, 0.5), pct(t2o, 0.99) / pct(hops, 0.99)
    print(f"   MATS / bare      p50 {ratio_p50:.0f}x   p99 {ratio_p99:.0f}x")
    ok1 = pct(t2o, 0.99) * 1000 < TICK_TO_ORDER_P99_GOAL_MS
    print(f"   bars paced at {ORDERS_PER_SECOND:.0f}/s; ib_async throttled {t['throttled'][0]:.0f} times")
    print(f"   goal p99 < {TICK_TO_ORDER_P99_GOAL_MS} ms: {'met' if ok1 else 'NOT met'}\n")

    print(f"2. placeOrder written → OrderFilled (recorder) → PositionChanged (portfolio), {len(o2p)} orders")
    print(f"   order → fill       {spread(o2f)}")
    print(f"   order → position   {spread(o2p)}")
    print(f"   bare round trip    {spread(trips)}   (loopback write → read)")
    print(f"   MATS / bare        p50 {pct(o2p, 0.5) / pct(trips, 0.5):.0f}x\n")

    where = "in this process" if args.sim_in_process else "in its own process, as IB Gateway is"
    print(f"3. {args.strategies} strategies on {r['clients']} pooled strategy clients (max_clients 32)")
    print(f"   the simulator runs {where}")
    print(f"   started in {r['startup']:.1f} s; SmaCross (10/50, qty 1), bars told to their actors")
    print(f"   bare asyncio, {args.strategies} queue consumers fed at the same rate:")
    print(f"     50 ms monitor          {lag(bare_coarse)}")
    print(f"     5 ms probe             {lag(bare_fine)}")
    ok3 = True
    for name in ("bars only", "bars and trading"):
        p = r[name]
        c, f = p["coarse"], p["fine"]
        rate = p["sent"] / p["feed_seconds"]
        print(f"   {name}: fed {p['sent']:,} bars in {p['feed_seconds']:.1f} s = {rate:,.0f}/s")
        print(f"     handled {p['handled']:,} messages; {p['running']} strategies running at the end")
        print(f"     {p['orders']} orders sent on SMA crosses, {p['fills']} fills booked")
        print(f"     loop lag, 50 ms monitor  {lag(c)}")
        print(f"     loop lag, 5 ms probe     {lag(f)}")
        ratio = c.p99_ms / bare_coarse.p99_ms if bare_coarse.p99_ms > 0 else math.inf
        print(f"     MATS / bare (50 ms p99)  {ratio:.1f}x; slowest handler so far {p['slowest_ms']:.2f} ms")
        its = p["iterations"].samples
        print(
            f"     loop's own CPU per iteration  p99 {ms(pct(its, 0.99))}   p99.9 {ms(pct(its, 0.999))}   "
            f"max {ms(max(its, default=math.nan))}; {p['iterations'].over(0.005)} of {len(its):,} iterations "
            "over 5 ms"
            if its
            else "     loop's own CPU per iteration: not measured on this loop (uvloop)"
        )
        pauses = p["gc"]
        print(
            f"     GC ran {pauses.count} times, longest {ms(pauses.longest)}; "
            f"{pauses.full} full (gen 2) collections, longest {ms(pauses.longest_full)}"
        )
        slow = p["slow"]
        over = f"{slow.threshold * 1000:.0f} ms: {len(slow.slow)}"
        print(f"     callbacks over {over} (name: count, worst wall / its CPU)")
        for name, count, wall, cpu in slow.worst():
            print(f"       {name[:60]:60s} {count:4d}  {wall * 1000:6.2f} / {cpu * 1000:5.2f} ms")
        threads = p["threads"]
        busiest = sorted(threads.used.items(), key=lambda kv: -kv[1])[:6]
        print(
            "     CPU s by thread: "
            + ", ".join(f"{name} {cpu:.2f}" for name, cpu in busiest)
            + f"; steal {threads.steal:.2f} s"
        )
        depths = ", ".join(f"{total}/{peak}" for _, total, peak in p["depths"])
        print(f"     data-lane depth every 0.5 s, total/deepest: {depths}")
        growing = grew(p["depths"])
        drained = f"drained {p['drain'] * 1000:.1f} ms after the feed stopped"
        print(f"     mailboxes grew: {'YES' if growing else 'no'}; {drained}")
        met = c.p99_ms < LOOP_LAG_P99_GOAL_MS and not growing
        print(
            f"     goals loop lag p99 < {LOOP_LAG_P99_GOAL_MS} ms, no growth: {'met' if met else 'NOT met'}"
        )
        ok3 = ok3 and met
    print(f"   engine.lag.stats()       {lag(r['engine_lag'])}   (the whole run, start-up included)")
    print(
        f"\nload average {os.getloadavg()[0]:.2f} at the end; "
        "other processes on this machine skew the figures"
    )
    print(msgspec.json.encode({"bench": "live_latency", "tick_to_order_p50_ms": pct(t2o, 0.5) * 1000, "tick_to_order_p99_ms": pct(t2o, 0.99) * 1000, "tick_to_order_minus_queued_p99_ms": pct(unqueued, 0.99) * 1000, "bare_hop_p99_ms": pct(hops, 0.99) * 1000, "order_to_position_p50_ms": pct(o2p, 0.5) * 1000, "bare_trip_p50_ms": pct(trips, 0.5) * 1000, "loop_lag_98_strategies_bars_p99_ms": r["bars only"]["coarse"].p99_ms, "loop_lag_98_strategies_p99_ms": r["bars and trading"]["coarse"].p99_ms, "loop_cpu_per_iteration_p99_ms": pct(r["bars and trading"]["iterations"].samples, 0.99) * 1000, "bare_loop_lag_p99_ms": bare_coarse.p99_ms}).decode())  # noqa: E501  # fmt: skip
    return 0 if ok1 and ok3 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1000, help="bars (and orders) for parts 1 and 2")
    parser.add_argument("--strategies", type=int, default=98)
    parser.add_argument(
        "--sim-in-process",
        action="store_true",
        help="the simulator on the engine's own loop (its clock stepped in part 1)",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="let the simulator and the engine share every CPU (by default the simulator gets the last one)",
    )
    parser.add_argument("--rate", type=float, default=5000.0, help="bars per second in total, part 3")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long part 3 feeds bars")
    parser.add_argument("--uvloop", action="store_true", help="run everything on uvloop's event loop")
    parser.add_argument("--flush-ms", type=int, default=None, help="storage.flush_interval_ms")
    parser.add_argument(
        "--storage-nice",
        type=int,
        default=StorageSettings().thread_nice,
        help="storage.thread_nice: the storage threads' nice value (0: as high as the loop's)",
    )
    args = parser.parse_args()
    factory = None
    if args.uvloop:
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        sys.exit(runner.run(main(args)))
