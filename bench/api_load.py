"""The web API under load while the demo strategies trade: req/s and latency of ``GET /api/portfolio`` and
``GET /api/fills``, the engine's loop lag meanwhile, and the event stream fanned out to 100 WebSockets.

    .venv/bin/python bench/api_load.py [--seconds 10] [--workers 2] [--concurrency 16] [--clients 100]

``mats demo`` runs as a subprocess (simulator + engine + API in one process, one event loop). Its
simulator clock is sped up (``--speed``, via the simulator's admin endpoint) so the three demo strategies
trade several times a second instead of once per 10 s: the HTTP load meets a loop that is also trading.

1. HTTP. ``--workers`` separate processes, each a uvloop event loop with ``--concurrency`` keep-alive
   HTTP/1.1 connections, each connection sending its next request as soon as the last answer is read
   (closed loop). The client is a minimal one over asyncio streams, to keep the load generator's share
   of the cores it shares with the server small (the output shows its CPU). After a 1 s
   warm-up, ``--seconds`` are measured: req/s, latency percentiles, non-200 answers.
   The same load is run against a baseline measured in the same run: a bare uvicorn (asyncio loop and
   httptools, as MATS's embedded uvicorn uses) serving a minimal ASGI app that answers the same path with
   the same bytes MATS returned just before, in its own process. MATS/bare shows the framework's and the
   engine's share.
2. Loop lag. ``GET /api/health`` is polled every 50 ms during each phase; each answer carries the
   engine's latest loop-lag sample (``loop_lag.last_ms``, a 50 ms timer's lateness) and the sample count,
   so the samples taken inside the phase are collected without the 60 s window that ``p99_ms`` covers.
3. Tick-to-order is not observable from outside the demo (a bar arriving on the engine's IB socket
   publishes no event), so a child process runs ``bench/live_latency.py``'s probe (a bar read off
   client 0's socket -> the strategy's placeOrder written, an order on every bar, 40 bars/s) twice:
   alone, then with MATS's API on the probe's engine and loop while the load processes poll its
   ``/api/portfolio`` and ``/api/fills``.
4. WebSocket fan-out: ``--clients`` clients (split over the worker processes) connect to
   ``/api/stream``, authenticate with their first message ``{"token": …}`` and read for ``--ws-seconds``.
   Every client must receive every event published after the last one subscribed, with the same seqs,
   none missing. Reported: connect time, events, the spread (first client's receipt of an event to the
   last client's receipt, over all clients; monotonic clock, comparable across processes) and the
   delivery latency (the envelope's ``at`` to receipt, wall clock of the same host).

Goals (issue 10): >= 3,000 req/s at p99 < 20 ms for each route; loop lag p99 < 10 ms and tick-to-order
p99 < 2 ms under that load; fan-out to 100 clients.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import math
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
REQ_PER_S_GOAL = 3_000.0
HTTP_P99_GOAL_MS = 20.0
LOOP_LAG_P99_GOAL_MS = 10.0
TICK_TO_ORDER_P99_GOAL_MS = 2.0
WARMUP_S = 1.0
HEALTH_POLL_S = 0.01
CLK_TCK = os.sysconf("SC_CLK_TCK")


def pct(samples: list[float] | array.array[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan


def machine_busy_seconds() -> float:
    """CPU-seconds all CPUs spent busy since boot (everything but idle and iowait), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- a minimal HTTP/1.1 keep-alive client -------------------------------------------------------


class HttpConn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if match is None:
            raise ConnectionError("response without content-length")
        body = await self.reader.readexactly(int(match.group(1)))
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def request_bytes(port: int, path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()


def load_worker(
    port: int, path: str, token: str, concurrency: int, start_at: float, seconds: float, out: Any, nice: int
) -> None:
    """One load-generating process: ``concurrency`` connections, closed loop, measured after warm-up."""
    import uvloop

    os.nice(nice)

    async def run() -> tuple[array.array[float], int, int, int]:
        request = request_bytes(port, path, token)
        latencies: array.array[float] = array.array("d")
        counters = {"errors": 0, "bytes": 0, "measured": 0}
        await asyncio.sleep(max(0.0, start_at - time.time()))
        measure_from = time.perf_counter() + WARMUP_S
        stop_at = measure_from + seconds

        async def connection() -> None:
            conn = HttpConn(port)
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    break
                try:
                    status, body = await conn.get(request)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                    conn.close()
                    counters["errors"] += 1
                    await asyncio.sleep(0.01)
                    continue
                done = time.perf_counter()
                if sent >= measure_from and done <= stop_at:
                    latencies.append(done - sent)
                    counters["bytes"] += len(body)
                    if status != 200:
                        counters["errors"] += 1
            conn.close()

        await asyncio.gather(*(connection() for _ in range(concurrency)))
        return latencies, counters["errors"], counters["bytes"], len(latencies)

    cpu0 = time.process_time()
    latencies, errors, nbytes, count = uvloop.run(run())
    out.put((latencies.tobytes(), errors, nbytes, count, time.process_time() - cpu0))


def ws_worker(port: int, token: str, clients: int, start_at: float, seconds: float, out: Any) -> None:
    """``clients`` stream clients in one process: hello, then every envelope with its receipt times."""
    import uvloop
    from websockets.asyncio.client import connect

    async def client(ready: list[float]) -> tuple[int, list[tuple[int, float, float, str]]]:
        received: list[tuple[int, float, float, str]] = []
        began = time.perf_counter()
        async with connect(f"ws://{HOST}:{port}/api/stream", open_timeout=20, close_timeout=2) as ws:
            await ws.send(json.dumps({"token": token}))
            hello = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if hello.get("type") != "hello":
                raise RuntimeError(f"expected hello, got {hello}")
            ready.append(time.perf_counter() - began)
            stop_at = start_at + seconds
            while (left := stop_at - time.time()) > 0:
                try:
                    raw = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                mono, wall = time.perf_counter(), time.time()
                envelope = json.loads(raw)
                received.append((envelope["seq"], mono, wall, envelope["at"]))
        return int(hello["last_seq"]), received

    async def run() -> tuple[list[Any], list[float]]:
        await asyncio.sleep(max(0.0, start_at - 3.0 - time.time()))  # connect before the window opens
        ready: list[float] = []
        results = await asyncio.gather(*(client(ready) for _ in range(clients)), return_exceptions=True)
        return [r if not isinstance(r, BaseException) else repr(r) for r in results], ready

    results, ready = uvloop.run(run())
    out.put((results, ready))


# --- the bare baseline ---------------------------------------------------------------------------


def litestar_hello(bodies: dict[str, bytes]) -> Any:
    """The framework's floor: a Litestar app whose one route returns the same bytes, nothing else."""
    from litestar import Litestar, MediaType, Response, get

    def route(path: str, body: bytes) -> Any:
        def hello() -> Any:
            return Response(body, media_type=MediaType.JSON)

        hello.__annotations__ = {"return": Response}  # resolved here: litestar is imported locally
        return get(path, sync_to_thread=False)(hello)

    handlers = [route(path, body) for path, body in bodies.items()]
    return Litestar(route_handlers=handlers, openapi_config=None, logging_config=None)


def bare_server(conn: Any, bodies: dict[str, bytes], framework: bool = False) -> None:
    """uvicorn (asyncio loop, httptools, as MATS's embedded server) and a minimal ASGI app, or with
    ``framework`` a minimal Litestar app."""
    import uvicorn

    headers = {
        path: [(b"content-type", b"application/json"), (b"content-length", str(len(b)).encode())]
        for path, b in bodies.items()
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        body = bodies.get(path)
        if body is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers[path]})
        await send({"type": "http.response.body", "body": body})

    # proto given: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP (as uvicorn's own are)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((HOST, 0))
    conn.send(sock.getsockname()[1])
    config = uvicorn.Config(
        litestar_hello(bodies) if framework else app,
        loop="asyncio",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


def stop_bare(process: Any) -> None:
    if process.is_alive():
        process.terminate()  # uvicorn shuts down, then re-raises SIGTERM: a quiet exit
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join(5)


# --- the demo ------------------------------------------------------------------------------------


class Demo:
    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.log_path = log_path
        self.log = log_path.open("w")
        command = [sys.executable, "-m", "mats.cli", "demo", "--data-dir", str(data_dir)]
        command += ["--web-port", "0", "--sim-admin-port", "0"]
        self.proc = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.port = self.admin_port = 0
        self.token = ""

    def wait_ready(self) -> None:
        """Reads the banner (blocking: the caller bounds it, and a killed demo ends the read)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if m := re.search(r"MATS is running: http://127\.0\.0\.1:(\d+)/", line):
                self.port = int(m.group(1))
            elif m := re.search(r"API token: (\S+)", line):
                self.token = m.group(1)
            elif m := re.search(r"admin http://127\.0\.0\.1:(\d+)", line):
                self.admin_port = int(m.group(1))
            elif "Ctrl-C stops it." in line:
                return
        raise RuntimeError(f"mats demo exited before it was ready; see {self.log_path}")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        return self.proc.returncode


def admin_post(port: int, path: str, body: dict[str, Any]) -> Any:
    payload = json.dumps(body).encode()
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + payload
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


async def fetch(port: int, path: str, token: str) -> bytes:
    conn = HttpConn(port)
    try:
        status, body = await asyncio.wait_for(conn.get(request_bytes(port, path, token)), 10)
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
    return body


class LagSampler:
    """Polls /api/health; keeps each new loop-lag sample (``last_ms``) seen while running."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[float] = []
        self.health: dict[str, Any] = {}
        self.first_count = self.last_count = -1
        self.window = (time.time(), time.time())
        self._task: asyncio.Task[None] | None = None
        self._stop = False

    async def _run(self) -> None:
        conn = HttpConn(self.port)
        request = request_bytes(self.port, "/api/health", "-")
        last_count = -1
        try:
            while not self._stop:
                _, body = await conn.get(request)
                self.health = json.loads(body)
                lag = self.health["loop_lag"]
                if lag["samples"] != last_count:
                    if last_count >= 0:
                        self.samples.append(lag["last_ms"])
                    else:
                        self.first_count = lag["samples"]
                    last_count = self.last_count = lag["samples"]
                await asyncio.sleep(HEALTH_POLL_S)
        finally:
            conn.close()

    @property
    def produced(self) -> int:
        """How many samples the monitor took meanwhile (some may be missed between two polls)."""
        return max(self.last_count - self.first_count, 0)

    def start(self) -> None:
        self.window = (time.time(), math.inf)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self.window = (self.window[0], time.time())
        self._stop = True
        assert self._task is not None
        await asyncio.wait_for(self._task, 10)


# --- phases --------------------------------------------------------------------------------------


class HttpResult:
    def __init__(self, name: str, latencies: list[float], errors: int, nbytes: int, seconds: float) -> None:
        self.name = name
        self.count = len(latencies)
        self.rate = self.count / seconds
        self.p50 = pct(latencies, 0.50) * 1000
        self.p90 = pct(latencies, 0.90) * 1000
        self.p99 = pct(latencies, 0.99) * 1000
        self.max = max(latencies, default=math.nan) * 1000
        self.errors = errors
        self.body = nbytes / self.count if self.count else math.nan
        self.server_cpu = math.nan
        self.client_cpu = math.nan
        self.machine_cpu = math.nan  # all processes on the machine, in CPUs (2.0 = both cores busy)
        self.loadavg = math.nan
        self.sampler: LagSampler | None = None


async def http_phase(
    name: str, port: int, path: str, token: str, args: argparse.Namespace, server_pid: int, lag_port: int
) -> HttpResult:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 1.5  # the workers' interpreters start meanwhile
    workers = [
        ctx.Process(
            target=load_worker,
            args=(port, path, token, args.concurrency, start_at, args.seconds, queue, args.client_nice),
            daemon=True,
        )
        for _ in range(args.workers)
    ]
    for w in workers:
        w.start()
    await asyncio.sleep(max(0.0, start_at + WARMUP_S - time.time()))
    cpu0, busy0, t0 = cpu_seconds(server_pid), machine_busy_seconds(), time.perf_counter()
    sampler = LagSampler(lag_port)
    sampler.start()
    await asyncio.sleep(args.seconds)
    cpu1, busy1, t1 = cpu_seconds(server_pid), machine_busy_seconds(), time.perf_counter()
    await sampler.stop()
    parts = [await asyncio.to_thread(queue.get, True, args.seconds + 30) for _ in workers]
    for w in workers:
        await asyncio.to_thread(w.join, 10)
    latencies: list[float] = []
    for raw, *_ in parts:
        chunk: array.array[float] = array.array("d")
        chunk.frombytes(raw)
        latencies.extend(chunk)
    result = HttpResult(name, latencies, sum(p[1] for p in parts), sum(p[2] for p in parts), args.seconds)
    result.server_cpu = (cpu1 - cpu0) / (t1 - t0)
    result.client_cpu = sum(p[4] for p in parts) / (args.seconds + WARMUP_S)
    result.machine_cpu = (busy1 - busy0) / (t1 - t0)
    result.loadavg = os.getloadavg()[0]
    result.sampler = sampler
    return result


async def idle_phase(port: int, seconds: float) -> LagSampler:
    sampler = LagSampler(port)
    sampler.start()
    await asyncio.sleep(seconds)
    await sampler.stop()
    return sampler


async def ws_phase(port: int, token: str, args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 5.0  # spawn (~1 s), then 3 s to connect every client
    split = [args.clients // args.workers + (i < args.clients % args.workers) for i in range(args.workers)]
    workers = [
        ctx.Process(target=ws_worker, args=(port, token, n, start_at, args.ws_seconds, queue), daemon=True)
        for n in split
        if n
    ]
    for w in workers:
        w.start()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    sampler = LagSampler(port)
    sampler.start()
    await asyncio.sleep(args.ws_seconds)
    await sampler.stop()
    parts = [await asyncio.to_thread(queue.get, True, 60) for _ in workers]
    for w in workers:
        await asyncio.to_thread(w.join, 10)
    clients = [c for results, _ in parts for c in results]
    connect_times = [t for _, ready in parts for t in ready]
    failed = [c for c in clients if isinstance(c, str)]
    ok: list[tuple[int, list[tuple[int, float, float, str]]]] = [c for c in clients if not isinstance(c, str)]
    out: dict[str, Any] = {
        "clients": len(clients),
        "connected": len(ok),
        "failed": failed[:3],
        "connect_p50": pct(connect_times, 0.5) * 1000,
        "connect_max": max(connect_times, default=math.nan) * 1000,
        "lag": sampler,
    }
    if not ok:
        return out
    lo = max(hello for hello, _ in ok)  # events after the last client subscribed reach every client
    hi = min((received[-1][0] for _, received in ok if received), default=lo)
    expected = list(range(lo + 1, hi + 1))
    per_seq: dict[int, list[tuple[float, float, str]]] = {}
    complete = 0
    for _, received in ok:
        seqs = [seq for seq, *_ in received if lo < seq <= hi]
        complete += seqs == expected
        for seq, mono, wall, at in received:
            if lo < seq <= hi:
                per_seq.setdefault(seq, []).append((mono, wall, at))
    spreads = [max(m for m, _, _ in v) - min(m for m, _, _ in v) for v in per_seq.values()]
    delivery = [wall - datetime.fromisoformat(at).timestamp() for v in per_seq.values() for _, wall, at in v]
    out.update(
        events=len(expected),
        total=sum(len(r) for _, r in ok),
        complete=complete,
        spread_p50=pct(spreads, 0.5) * 1000,
        spread_p99=pct(spreads, 0.99) * 1000,
        spread_max=max(spreads, default=math.nan) * 1000,
        delivery_p50=pct(delivery, 0.5) * 1000,
        delivery_p99=pct(delivery, 0.99) * 1000,
        delivery_max=max(delivery, default=math.nan) * 1000,
    )
    return out


# --- tick-to-order under HTTP load ---------------------------------------------------------------


#: The probe's runs: (name, requests per loop iteration for its API; "alone": no API at all).
PROBE_RUNS = (("alone", None), ("loaded", "default"), ("loaded_unshared", None))


def tick_to_order_worker(conn: Any, bars: int) -> None:
    """A child process: bench/live_latency.py's tick-to-order probe (a bar read off client 0's socket to
    the strategy's placeOrder written, on a paused simulator clock), first alone, then with MATS's API
    started on the same engine and loop while the parent loads it: with the API's share of the loop
    limited (``LoopShare``, the default), and without. Replies over ``conn``."""
    import secrets

    try:
        import live_latency as probe
        from mats.api.auth import ApiToken
        from mats.api.loopshare import PER_ITERATION
        from mats.api.server import ApiServer
        from mats.logging import configure_logging
    except Exception as exc:  # the probe lives in another bench: report, don't crash this one
        conn.send(("error", repr(exc)))
        return
    configure_logging(level="error")
    start_engine, stop_engine = probe.start_engine, probe.stop_engine
    token = secrets.token_urlsafe(24)
    current: dict[str, Any] = {"run": "alone", "api": None}

    async def start_with_api(sim: Any, data_dir: Path, specs: list[Any], storage: Any = None) -> Any:
        engine, trading, task = await start_engine(sim, data_dir, specs, storage)
        if current["run"] != "alone":
            engine.trading = trading  # as mats.launch wires it: the API reads the books through it
            share = PER_ITERATION if current["run"] == "loaded" else None
            api = ApiServer(ApiToken(token), host=HOST, port=0, web_dist=None, requests_per_iteration=share)
            await api.start(engine)
            current["api"] = api
            conn.send(("ready", api.port, token))
            await asyncio.to_thread(conn.recv)  # the parent's load is running
        return engine, trading, task

    async def stop_with_api(engine: Any, task: Any) -> None:
        if current["api"] is not None:
            conn.send(("measured",))
            await asyncio.to_thread(conn.recv)  # the load is over: the API may go
            await current["api"].stop()
            current["api"] = None
        await stop_engine(engine, task)

    probe.start_engine, probe.stop_engine = start_with_api, stop_with_api

    async def run() -> dict[str, dict[str, list[float]]]:
        results = {}
        with tempfile.TemporaryDirectory(prefix="mats-t2o-") as tmp:
            for name, _ in PROBE_RUNS:
                current["run"] = name
                # The simulator on the probe's loop, stepped a bar at a time: on 2 CPUs already shared
                # by the load processes, a simulator process of its own would take the CPU whose use by
                # the API this measures (the run alone shows the probe at its usual figures).
                out = await probe.tick_to_order(bars, Path(tmp) / name, in_process=True)
                results[name] = {k: out.get(k, []) for k in ("tick_to_order", "tick_to_order_cpu")}
        return results

    try:
        results = asyncio.run(run())
    except Exception as exc:
        conn.send(("error", repr(exc)))
        return
    conn.send(("done", results))


async def tick_to_order_phase(args: argparse.Namespace) -> dict[str, Any]:
    """Tick-to-order alone and while ``--workers`` load processes poll the probe engine's API."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    worker = ctx.Process(target=tick_to_order_worker, args=(child, args.probe_bars), daemon=True)
    worker.start()
    seconds = max(args.probe_bars / 40 + 8.0, args.seconds)  # bars at 40/s, after 20 warm-up bars
    loads: dict[str, tuple[float, int]] = {}
    try:
        for name, _ in PROBE_RUNS[1:]:
            reply = await asyncio.wait_for(asyncio.to_thread(parent.recv), 180)
            if reply[0] == "error":
                return {"error": reply[1]}
            _, port, token = reply
            queue = ctx.Queue()
            start_at = time.time() + 1.5
            paths, nice = ["/api/portfolio", "/api/fills"], args.client_nice
            loaders = [
                ctx.Process(
                    target=load_worker,
                    args=(port, paths[i % 2], token, args.concurrency, start_at, seconds, queue, nice),
                    daemon=True,
                )
                for i in range(args.workers)
            ]  # fmt: skip
            for w in loaders:
                w.start()
            await asyncio.sleep(max(0.0, start_at + WARMUP_S - time.time()))
            parent.send("go")
            measured = await asyncio.wait_for(asyncio.to_thread(parent.recv), seconds + 60)
            parts = [await asyncio.to_thread(queue.get, True, seconds + 30) for _ in loaders]
            for w in loaders:
                await asyncio.to_thread(w.join, 10)
            if measured[0] == "error":
                return {"error": measured[1]}
            parent.send("release")
            loads[name] = (sum(p[3] for p in parts) / seconds, sum(p[1] for p in parts))
        reply = await asyncio.wait_for(asyncio.to_thread(parent.recv), 120)
    finally:
        await asyncio.to_thread(worker.join, 30)
        if worker.is_alive():
            worker.kill()
    if reply[0] == "error":
        return {"error": reply[1]}
    return {"runs": reply[1], "loads": loads}


# --- report --------------------------------------------------------------------------------------


LAG_LINE = re.compile(r"^(\S+Z) \[warning\s*\] loop\.lag .*lag_ms=([\d.]+)")


def logged_stalls(log_text: str) -> list[tuple[float, float]]:
    """The engine logs every loop-lag sample >= 100 ms: (wall time, ms)."""
    out = []
    for line in log_text.splitlines():
        if m := LAG_LINE.match(line):
            out.append((datetime.fromisoformat(m.group(1)).timestamp(), float(m.group(2))))
    return out


def lag_row(name: str, samplers: list[LagSampler], stalls: list[tuple[float, float]]) -> str:
    samples = [x for s in samplers for x in s.samples]
    produced = sum(s.produced for s in samplers)
    inside = [ms for at, ms in stalls if any(s.window[0] <= at <= s.window[1] for s in samplers)]
    return (
        f"  {name:<34} {len(samples):>5}/{produced:<5} {pct(samples, 0.5):7.2f}  {pct(samples, 0.99):7.2f}"
        f"  {max(samples, default=math.nan):7.2f}   {len(inside):>2} {max(inside, default=0.0):6.0f}"
    )


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="mats-api-load-") as tmp:
        demo = Demo(Path(tmp) / "demo", Path(tmp) / "demo.log")
        bare: Any = None
        try:
            started = time.perf_counter()
            await asyncio.wait_for(asyncio.to_thread(demo.wait_ready), 90)
            print(
                f"mats demo up in {time.perf_counter() - started:.1f} s on {HOST}:{demo.port} "
                f"(pid {demo.proc.pid}); {os.cpu_count()} CPUs on this machine, shared by the demo, "
                f"the load generator and the baseline"
            )
            if args.speed != 1:
                admin_post(demo.admin_port, "/control/set_speed", {"speed": args.speed})
                print(
                    f"simulator clock at {args.speed:g}x: the demo strategies trade {args.speed:g}x as often"
                )
            await asyncio.sleep(args.settle)
            idle = await idle_phase(demo.port, args.idle_seconds)

            results: list[HttpResult] = []
            for path in ("/api/portfolio", "/api/fills"):
                # the bare app answers with the bytes MATS returns now (fills grow as the demo trades)
                body = await fetch(demo.port, path, demo.token)
                for name in ("bare", "hello", "MATS"):
                    port, pid = demo.port, demo.proc.pid
                    if name != "MATS":
                        ctx = mp.get_context("spawn")
                        parent, child = ctx.Pipe()
                        baseline_args = (child, {path: body}, name == "hello")
                        bare = ctx.Process(target=bare_server, args=baseline_args, daemon=True)
                        bare.start()
                        port, pid = await asyncio.to_thread(parent.recv), bare.pid
                        for _ in range(100):  # the baseline's interpreter may take seconds to start
                            try:
                                await fetch(port, path, demo.token)
                                break
                            except ConnectionRefusedError:
                                await asyncio.sleep(0.2)
                    results.append(
                        await http_phase(f"{name} GET {path}", port, path, demo.token, args, pid, demo.port)
                    )
                    if bare is not None:
                        stop_bare(bare)
                        bare = None
            t2o = await tick_to_order_phase(args) if args.probe_bars else {"error": "--probe-bars 0"}
            ws = await ws_phase(demo.port, demo.token, args)
            fills = json.loads(await fetch(demo.port, "/api/fills", demo.token))
            health = json.loads(await fetch(demo.port, "/api/health", "-"))
        finally:
            if bare is not None:
                stop_bare(bare)
            stopping = time.time()
            code = demo.stop()
        log_text = demo.log_path.read_text() if demo.log_path.exists() else ""

    warnings = [
        line
        for line in log_text.splitlines()
        if ("[warning" in line or "[error" in line)
        and "loop.lag" not in line
        and line[:27].endswith("Z")
        and datetime.fromisoformat(line[:27]).timestamp() < stopping
    ]
    print()
    print(
        f"HTTP: {args.workers} load processes x {args.concurrency} keep-alive connections, closed loop, "
        f"{WARMUP_S:g} s warm-up then {args.seconds:g} s measured"
    )
    head = f"  {'':<26} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    print(
        head + f" {'errors':>6} {'bytes':>6} {'srv CPU':>7} {'cli CPU':>7} {'machine':>7} {'load':>5}"
        f" {'/bare':>6} {'/hello':>6}"
    )
    by_name = {r.name: r for r in results}
    for r in results:
        ratios = ""
        if not r.name.startswith("bare"):
            for base in ("bare", "hello"):
                other = by_name[r.name.replace(r.name.split()[0], base, 1)]
                ratios += f" {r.rate / other.rate:5.2f}x" if other is not r else f" {'':>6}"
        print(
            f"  {r.name:<26} {r.rate:7.0f} {r.p50:7.2f} {r.p90:7.2f} {r.p99:7.2f} {r.max:7.1f} "
            f"{r.errors:6d} {r.body:6.0f} {r.server_cpu:6.0%} {r.client_cpu:7.0%} {r.machine_cpu:6.2f} "
            f"{r.loadavg:5.2f}{ratios}"
        )
    print(
        "  (bare: uvicorn + a raw ASGI app; hello: uvicorn + a one-route Litestar app; both answer the same"
    )
    print(
        f"   bytes. srv CPU: the server process's CPU / wall time; cli CPU: the load processes' (nice "
        f"{args.client_nice}); machine: busy CPUs of all {os.cpu_count()}, other helpers' work included;"
    )
    print("   load: 1-minute load average at the end of the phase)")

    print()
    stalls = logged_stalls(log_text)
    print("Engine loop lag: the 50 ms monitor's samples taken during each phase, read via /api/health polled")
    print(
        "every 10 ms (n: samples read / samples the monitor took), and the stalls >= 100 ms the engine logged"
    )
    print(f"  {'':<34} {'n':>11} {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}  {'>=100ms':>7} {'max':>4}")
    print(lag_row("idle (strategies trading)", [idle], stalls))
    loaded = [r.sampler for r in results if r.name.startswith("MATS") and r.sampler is not None]
    for r in results:
        if r.name.startswith("MATS") and r.sampler is not None:
            print(lag_row(f"under {r.name[5:]}", [r.sampler], stalls))
    print(lag_row("all MATS HTTP load phases", loaded, stalls))
    print(lag_row(f"under WebSocket fan-out ({ws['clients']})", [ws["lag"]], stalls))
    lag = health["loop_lag"]
    print(
        f"  /api/health at the end (last {min(lag['samples'], 1200)} samples, ~60 s): p50 {lag['p50_ms']:.2f}"
        f"  p99 {lag['p99_ms']:.2f}  max since start {lag['max_ms']:.1f} ms (start-up included)"
    )

    print()
    print(f"WebSocket fan-out: {ws['clients']} clients on /api/stream for {args.ws_seconds:g} s")
    print(
        f"  connected {ws['connected']}/{ws['clients']} (hello in p50 {ws['connect_p50']:.1f} ms, "
        f"max {ws['connect_max']:.1f} ms, all connecting at once)"
    )
    for failure in ws["failed"]:
        print(f"  failed: {failure}")
    if "events" in ws:
        print(
            f"  events published after the last client subscribed: {ws['events']}; clients that received "
            f"every one, in order, no gaps: {ws['complete']}/{ws['connected']}; messages received in all: "
            f"{ws['total']}"
        )
        print(
            f"  fan-out spread (first client's receipt -> last client's): p50 {ws['spread_p50']:.2f}  "
            f"p99 {ws['spread_p99']:.2f}  max {ws['spread_max']:.2f} ms"
        )
        print(
            f"  delivery (envelope 'at' -> client receipt): p50 {ws['delivery_p50']:.2f}  "
            f"p99 {ws['delivery_p99']:.2f}  max {ws['delivery_max']:.2f} ms"
        )

    print()
    if "runs" in t2o:
        print(
            "Tick-to-order (bench/live_latency.py's probe: a bar read off client 0's socket -> the "
            f"strategy's placeOrder written; {args.probe_bars} bars at 40/s, an order on each)"
        )
        print(f"  {'':<50} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'loop CPU p99':>12} {'req/s':>7}")
        labels = {
            "alone": "alone (no API)",
            "loaded": "API under HTTP load, its loop share limited",
            "loaded_unshared": "API under HTTP load, no limit",
        }
        for name, part in t2o["runs"].items():
            samples, cpu = part["tick_to_order"], part["tick_to_order_cpu"]
            rate = f"{t2o['loads'][name][0]:7,.0f}" if name in t2o["loads"] else ""
            print(
                f"  {labels[name]:<50} {pct(samples, 0.5) * 1000:7.3f} {pct(samples, 0.99) * 1000:7.3f}"
                f" {max(samples, default=math.nan) * 1000:7.2f} {pct(cpu, 0.99) * 1000:12.3f} {rate:>7}"
            )
        errors = sum(e for _, e in t2o["loads"].values())
        print(
            f"  load: {args.workers} processes x {args.concurrency} connections on /api/portfolio and "
            f"/api/fills, {errors} errors. Loop CPU: the loop thread's CPU time over the same span; wall"
        )
        print("  minus CPU: the process was not running (2 shared CPUs) or waited on the GIL")
    else:
        print(f"Tick-to-order under load: not measured ({t2o.get('error')})")

    print()
    print(
        f"Trading meanwhile: {len(fills)} fills in the demo's book at the end; demo exit code {code}; "
        f"{len(warnings)} other warning/error log lines before shutdown; "
        f"unhandled API exceptions {health['unhandled_exceptions']}"
    )
    for line in warnings[:5]:
        print(f"  {line[:160]}")

    print()
    print("Goals (issue 10)")
    worst_lag = pct([x for sampler in loaded for x in sampler.samples], 0.99)
    for r in results:
        if r.name.startswith("MATS"):
            ok = r.rate >= REQ_PER_S_GOAL and r.p99 < HTTP_P99_GOAL_MS and r.errors == 0
            print(
                f"  {r.name[5:]:<18} >= {REQ_PER_S_GOAL:,.0f} req/s at p99 < {HTTP_P99_GOAL_MS:g} ms: "
                f"{r.rate:,.0f} req/s, p99 {r.p99:.1f} ms -> {verdict(ok)}"
            )
    print(
        f"  loop lag p99 < {LOOP_LAG_P99_GOAL_MS:g} ms under load: {worst_lag:.2f} ms -> "
        f"{verdict(worst_lag < LOOP_LAG_P99_GOAL_MS)}"
    )
    t2o_p99 = math.nan
    if "runs" in t2o:
        t2o_p99 = pct(t2o["runs"]["loaded"]["tick_to_order"], 0.99) * 1000
        print(
            f"  tick-to-order p99 < {TICK_TO_ORDER_P99_GOAL_MS:g} ms under load: {t2o_p99:.2f} ms -> "
            f"{verdict(t2o_p99 < TICK_TO_ORDER_P99_GOAL_MS)}"
        )
    else:
        print(f"  tick-to-order p99 under load: not measured ({t2o.get('error')})")
    fanned = (
        "events" in ws
        and ws["connected"] == args.clients
        and ws["complete"] == ws["connected"]
        and ws["events"] > 0
    )
    if "events" in ws:
        print(
            f"  WebSocket fan-out to {args.clients} clients, every event to every client: "
            f"{ws['complete']}/{args.clients} complete over {ws['events']} events -> {verdict(fanned)}"
        )
    if args.json:
        figures: dict[str, Any] = {"bench": "api_load", "client_nice": args.client_nice}
        for r in results:
            key = r.name.split()[0].lower() + "_" + r.name.split()[-1].strip("/").replace("/", "_")
            figures[f"{key}_req_s"] = round(r.rate, 1)
            figures[f"{key}_p99_ms"] = round(r.p99, 2)
            figures[f"{key}_machine_cpus"] = round(r.machine_cpu, 2)
        figures["loop_lag_idle_p99_ms"] = round(pct(idle.samples, 0.99), 2)
        figures["loop_lag_http_p99_ms"] = round(worst_lag, 2)
        for name, part in t2o.get("runs", {}).items():
            for q in (0.5, 0.99):
                figures[f"tick_to_order_{name}_p{q * 100:g}_ms"] = round(
                    pct(part["tick_to_order"], q) * 1000, 3
                )
            figures[f"tick_to_order_{name}_cpu_p99_ms"] = round(
                pct(part["tick_to_order_cpu"], 0.99) * 1000, 3
            )
            if name in t2o["loads"]:
                figures[f"tick_to_order_{name}_req_s"] = round(t2o["loads"][name][0], 1)
        figures["ws_clients_complete"] = ws.get("complete", 0)
        figures["ws_clients"] = args.clients
        figures["ws_fanout_met"] = bool(fanned)
        figures["ws_delivery_p99_ms"] = round(ws.get("delivery_p99", math.nan), 2)
        print(json.dumps(figures))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per HTTP phase")
    parser.add_argument("--workers", type=int, default=2, help="load-generating processes")
    parser.add_argument("--concurrency", type=int, default=16, help="connections per load process")
    parser.add_argument("--clients", type=int, default=100, help="WebSocket clients")
    parser.add_argument("--ws-seconds", type=float, default=15.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after start-up before measuring")
    parser.add_argument("--speed", type=float, default=10.0, help="simulator clock speed (demo trading rate)")
    parser.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="niceness of the load processes; 10 stands in for clients on other machines (2 CPUs here)",
    )
    parser.add_argument("--json", action="store_true", help="end with one line of JSON: the figures")
    parser.add_argument(
        "--probe-bars", type=int, default=200, help="tick-to-order samples alone and under load (0: skip)"
    )
    args = parser.parse_args()
    args.seconds = min(args.seconds, 15.0)
    args.ws_seconds = min(args.ws_seconds, 15.0)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
