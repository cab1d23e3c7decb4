"""Soak: ``mats demo`` trading for N minutes on a fast simulator clock, watched from outside. Issue 12.

    .venv/bin/python bench/soak.py [--minutes 30] [--speed 20] [--dashboards 1] [--chart soak.png] [--json]
                                   [--sim-process]

The demo (simulator + engine + API, one process) runs as a subprocess; its simulator clock is sped up
(``--speed``, the simulator's admin endpoint), so its three strategies trade ``speed`` times as often as
live. ``--dashboards`` stand-ins for the UI poll the portfolio, fills and orders every second and hold
an ``/api/stream`` socket each. Every ``--sample-seconds`` the demo's RSS and CPU (from /proc) and
``GET /api/metrics`` (loop lag, every actor's mailbox depths and counters, the bus's seq) are sampled;
every minute a table row is printed (lag p99: the engine's last 60 s; lag smp: the largest single lag
sample read in that minute; ctrl/data: the deepest mailbox lanes of any actor seen); at the end a
summary with the RSS slope (least squares over the samples after the first minute, the start-up's
growth; and, in a run at least ten minutes longer than that, over the samples after every bound on what
the engine keeps filled, ``SETTLING`` as ``GET /api/metrics`` reports them, and a virtual day passed) and
the goals:

- memory is flat: the heap's (anonymous RSS) slope after the bounds filled (or after three minutes with
  ``--small-bounds``) below ``RSS_SLOPE_GOAL_MIB_PER_H``. File-backed
  RSS is printed beside it: the LMDB and SQLite pages touched, which grow with the data kept and which the
  kernel takes back under pressure. The settled slope through each minute's lowest anonymous RSS is
  printed too: memory held for seconds (a compaction reading a symbol) is left out of it, memory kept is
  not;
- mailboxes do not grow: no actor's depth above ``DEPTH_GOAL`` in the last minute;
- the loop stays responsive: loop-lag p99 per minute below ``LOOP_LAG_P99_GOAL_MS``.

``--settle-minutes M`` judges the slope after minute M instead of after the bounds filled (the soak
prints when each fills; at 120x the demo filled them all by minute 21).

``--slow-callbacks MS`` (with ``--sim-process``) has the engine log, every minute, its loop callbacks that
took longer than MS, by name, with wall and CPU time; the summary repeats them.

``--trace-growth MIN`` (with ``--sim-process``) has the engine trace its Python allocations from minute
MIN and log, every five minutes, what it allocated since then that is still alive, by site. Tracing's
own records take hundreds of MiB an hour, so a traced run's RSS figures say nothing; compare its
reports instead: a site that stops growing one turnover of its bound after MIN is bounded.

``--malloc-stats`` (with ``--sim-process``) has the engine log, every five minutes, where its heap is:
pymalloc's arenas against their live blocks, and glibc's malloc in use against free but kept.
bench/engine_watch.py holds these watchers.

``--chart`` writes a PNG (matplotlib) of RSS, loop lag and mailbox depth over time.

``--samples FILE`` writes every sample as a line of JSON as it is taken, so a run can be judged again
over another window: ``--rejudge FILE --settle-minutes M [--chart PNG]`` prints the heap's slopes after
minute M (and draws the chart) without running anything. ``--rejudge`` repeated (``LABEL=FILE``) judges
each run and charts their heaps side by side.

``--engine-env NAME=VALUE`` (with ``--sim-process``, repeatable) sets an environment variable in the
engine's process alone: an allocator experiment (``GLIBC_TUNABLES``, ``MALLOC_ARENA_MAX``, ``LD_PRELOAD``)
that leaves the simulator and this script as they were.

``--small-bounds`` (with ``--sim-process``) sets every bound on what the engine keeps small (finished
orders, fills, revisions, refs, the bus's history), so they fill within minutes: what grows after that
grows without a bound.

``--sim-process`` splits the demo in two: ``mats sim`` in one process and the engine + API (the demo's
strategies and seeded bars, this script's ``--engine-against PORT`` mode) in another, so the simulator's
memory and the engine's are measured apart. The RSS goal is then the engine's; the simulator's slope is
printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from api_load import CLK_TCK, HOST, REPO, Demo, HttpConn, admin_post, logged_stalls, request_bytes
from engine_watch import summary, watchers

RSS_SLOPE_GOAL_MIB_PER_H = 10.0
DEPTH_GOAL = 100
LOOP_LAG_P99_GOAL_MS = 10.0
MIB = 1024 * 1024
#: Every bound on what the engine keeps (``GET /api/metrics`` ``kept``): until they are all full the heap
#: grows by design, so the slope is judged after they filled.
SETTLING = ("fills", "finished_orders", "event_history", "fill_revisions", "finished_refs")


@dataclass
class Sample:
    t: float  # seconds since the soak started
    rss_mib: float
    cpu_s: float
    lag_p99_ms: float
    lag_last_ms: float
    lag_max_ms: float
    events: int
    handled: int
    control_depth: int
    data_depth: int
    deepest: str
    sim_rss_mib: float = math.nan  # the simulator's own process (--sim-process only)
    # VmRSS = anonymous (heap: what can leak) + file-backed (shared libraries, and the pages of LMDB's and
    # SQLite's files the process touched: the kernel takes those back under pressure)
    rss_anon_mib: float = math.nan
    rss_file_mib: float = math.nan
    kept: dict[str, tuple[int, int]] = field(default_factory=dict)  # /api/metrics: name -> (count, bound)


class SplitDemo(Demo):
    """``mats sim`` and the engine + API as two processes (``--sim-process``): each one's memory alone."""

    def __init__(
        self, data_dir: Path, log_path: Path, engine_args: list[str], engine_env: dict[str, str]
    ) -> None:
        self.sim_log = log_path.with_name("sim.log").open("w")
        command = [sys.executable, "-m", "mats.cli", "sim", "--port", "0", "--admin-port", "0"]
        self.sim = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=self.sim_log, text=True)
        assert self.sim.stdout is not None
        self.sim_port = 0
        for line in self.sim.stdout:  # two lines, printed as soon as it listens
            if m := re.search(r"admin endpoint on http://127\.0\.0\.1:(\d+)/", line):
                sim_admin = int(m.group(1))
            elif m := re.search(r"listening on [\d.]+:(\d+)", line):
                self.sim_port = int(m.group(1))
                break
        if not self.sim_port:
            raise RuntimeError("mats sim exited before it listened")
        self.log_path = log_path
        self.log = log_path.open("w")
        engine = [
            sys.executable,
            __file__,
            "--engine-against",
            str(self.sim_port),
            "--data-dir",
            str(data_dir),
            *engine_args,
        ]
        env = {**os.environ, **engine_env}
        self.proc = subprocess.Popen(
            engine, cwd=REPO, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env
        )
        self.port = 0
        self.admin_port = sim_admin
        self.token = ""

    def stop(self) -> int | None:
        code = super().stop()
        if self.sim.poll() is None:
            self.sim.send_signal(signal.SIGINT)
            try:
                self.sim.wait(30)
            except subprocess.TimeoutExpired:
                self.sim.kill()
                self.sim.wait(10)
        self.sim_log.close()
        return code


async def engine_against(sim_port: int, data_dir: str, args: argparse.Namespace) -> None:
    """What ``mats demo`` runs, minus the simulator: the demo's strategies against ``sim_port``. From
    ``args``: ``--small-bounds`` (every bound on what the engine keeps set small, bench/memory_profile.py's)
    and the engine's watchers (bench/engine_watch.py: ``--slow-callbacks``, ``--trace-growth``,
    ``--malloc-stats``)."""
    import msgspec

    from mats import launch
    from mats.api.auth import load_or_create_token
    from mats.config import load_settings
    from mats.logging import configure_logging

    settings = load_settings(None, overrides={"data_dir": data_dir})
    configure_logging(settings.log.format, settings.log.level)
    ib = msgspec.structs.replace(settings.ib, host=HOST, port=sim_port, account="DU0000001")
    settings = msgspec.structs.replace(
        settings, ib=ib, strategies=settings.strategies or launch.DEMO_STRATEGIES
    )
    await launch.seed_demo_bars(settings.resolved_arctic_uri)
    token = load_or_create_token(settings.data_dir)
    engine, api = launch.build_engine(settings, token, web_port=0)

    async def announce() -> None:
        if args.small_bounds:
            from memory_profile import shrink_engine_bounds

            shrink_engine_bounds(engine)
        watching.extend(watchers(args.slow_callbacks, args.trace_growth, args.malloc_stats))
        extra = f"simulator: {HOST}:{sim_port} (its own process)"
        launch._print_banner(sys.stdout, api.url, token.reveal(), extra=extra)

    watching: list[asyncio.Task[None]] = []
    await engine.run(on_ready=announce)


@dataclass
class Dashboards:
    polls: int = 0
    errors: int = 0
    stream_messages: int = 0
    stream_errors: list[str] = field(default_factory=list)


def status_mib(status: str, field: str) -> float:
    match = re.search(rf"{field}:\s+(\d+) kB", status)
    return int(match.group(1)) * 1024 / MIB if match else math.nan


def proc_status(pid: int) -> str:
    return Path(f"/proc/{pid}/status").read_text()


def rss_and_cpu(pid: int) -> tuple[float, float]:
    status = proc_status(pid)
    rss = status_mib(status, "VmRSS")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / CLK_TCK


async def get_json(conn: HttpConn, port: int, path: str, token: str) -> Any:
    request = request_bytes(port, path, token)
    try:
        status, body = await asyncio.wait_for(conn.get(request), 10)
    except (OSError, asyncio.IncompleteReadError):  # uvicorn closes a connection idle for 5 s
        conn.close()
        status, body = await asyncio.wait_for(conn.get(request), 10)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
    return json.loads(body)


async def sample(demo: Demo, conn: HttpConn, began: float) -> Sample:
    rss, cpu = rss_and_cpu(demo.proc.pid)
    status = proc_status(demo.proc.pid)
    sim_rss = rss_and_cpu(demo.sim.pid)[0] if isinstance(demo, SplitDemo) else math.nan
    metrics = await get_json(conn, demo.port, "/api/metrics", demo.token)
    actors = metrics["actors"] or [{"name": "-", "control_depth": 0, "data_depth": 0, "handled": 0}]
    deepest = max(actors, key=lambda a: a["control_depth"] + a["data_depth"])
    lag = metrics["loop_lag"]
    return Sample(
        t=time.monotonic() - began,
        rss_mib=rss,
        cpu_s=cpu,
        lag_p99_ms=lag["p99_ms"],
        lag_last_ms=lag["last_ms"],
        lag_max_ms=lag["max_ms"],
        events=metrics["event_seq"],
        handled=sum(a["handled"] for a in actors),
        control_depth=max(a["control_depth"] for a in actors),
        data_depth=max(a["data_depth"] for a in actors),
        deepest=deepest["name"],
        sim_rss_mib=sim_rss,
        rss_anon_mib=status_mib(status, "RssAnon"),
        rss_file_mib=status_mib(status, "RssFile"),
        kept={k["name"]: (k["count"], k["bound"]) for k in metrics.get("kept", [])},
    )


async def dashboard(demo: Demo, stop: asyncio.Event, seen: Dashboards) -> None:
    """A UI stand-in: polls three routes every second and holds a stream socket."""
    from websockets.asyncio.client import connect

    async def stream() -> None:
        try:
            async with connect(f"ws://{HOST}:{demo.port}/api/stream", close_timeout=2) as ws:
                await ws.send(json.dumps({"token": demo.token}))
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(ws.recv(), 1.0)
                    except TimeoutError:
                        continue
                    seen.stream_messages += 1
        except Exception as exc:  # a closed stream is a finding, reported at the end
            seen.stream_errors.append(repr(exc)[:200])

    streaming = asyncio.create_task(stream())
    conn = HttpConn(demo.port)
    try:
        while not stop.is_set():
            for path in ("/api/portfolio", "/api/fills", "/api/orders"):
                try:
                    await get_json(conn, demo.port, path, demo.token)
                    seen.polls += 1
                except (OSError, RuntimeError, TimeoutError, ValueError):
                    seen.errors += 1
                    conn.close()
                    conn = HttpConn(demo.port)
            with_timeout = asyncio.create_task(stop.wait())
            await asyncio.wait({with_timeout}, timeout=1.0)
            with_timeout.cancel()
    finally:
        conn.close()
        await streaming


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) in MiB per hour."""
    if len(points) < 3:
        return math.nan
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600 if var else math.nan


def minute_floors(samples: list[Sample]) -> list[tuple[float, float]]:
    """The lowest anonymous RSS of each whole minute, at that minute's middle. A buffer held for a few
    seconds (a compaction reading a symbol, a burst of API replies) is gone from the floor; memory that
    stays raises it."""
    by_minute: dict[int, float] = {}
    for s in samples:
        minute = int(s.t // 60)
        by_minute[minute] = min(by_minute.get(minute, math.inf), s.rss_anon_mib)
    return [(minute * 60.0 + 30.0, floor) for minute, floor in sorted(by_minute.items())]


def settled_slopes(samples: list[Sample], after_s: float) -> tuple[float, float, float] | None:
    """The RSS, anonymous-RSS and minute-floor slopes (MiB/h) over the samples after ``after_s``; None
    unless those span at least ten minutes (a shorter window's slope is the noise's)."""
    settled = [s for s in samples if s.t >= after_s]
    if len(settled) < 2 or settled[-1].t - settled[0].t < 600.0:
        return None
    return (
        slope_per_hour([(s.t, s.rss_mib) for s in settled]),
        slope_per_hour([(s.t, s.rss_anon_mib) for s in settled]),
        slope_per_hour(minute_floors(settled)),
    )


def save_sample(path: Path, sample: Sample) -> None:
    """Appends one sample (a line of JSON): a run cut short keeps what it saw."""
    with path.open("a") as out:
        out.write(json.dumps(asdict(sample)) + "\n")


def read_samples(path: Path) -> list[Sample]:
    samples = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        row["kept"] = {name: tuple(pair) for name, pair in row.get("kept", {}).items()}
        samples.append(Sample(**row))
    return samples


def rejudge(args: argparse.Namespace) -> int:
    """The heap's slopes of runs saved with ``--samples``, after ``--settle-minutes``; with ``--chart``,
    one run's chart, or several runs' heaps on one chart (``LABEL=FILE`` names a line)."""
    runs: dict[str, list[Sample]] = {}
    code = 0
    for item in args.rejudge:
        label, _, path = item.rpartition("=")
        samples = runs[label or path] = read_samples(Path(path))
        slopes = settled_slopes(samples, args.settle_minutes * 60.0)
        print(f"{label or path}: {len(samples)} samples over {samples[-1].t / 60:.1f} min")
        if slopes is None:
            print(f"  fewer than ten minutes of samples after minute {args.settle_minutes:g}: no slope")
            code = 1
            continue
        total, anon, floor = slopes
        print(
            f"  after minute {args.settle_minutes:g}: slope {total:+.2f} MiB/h, anonymous (heap) {anon:+.2f}"
            f" MiB/h, through each minute's lowest anonymous RSS {floor:+.2f} MiB/h -> "
            f"{verdict(anon < RSS_SLOPE_GOAL_MIB_PER_H)} (goal < {RSS_SLOPE_GOAL_MIB_PER_H:g})"
        )
    if args.chart:
        if len(runs) == 1:
            write_chart(Path(args.chart), next(iter(runs.values())))
        else:
            write_heaps_chart(Path(args.chart), runs)
        print(f"chart: {args.chart}")
    return code


def write_heaps_chart(path: Path, runs: dict[str, list[Sample]]) -> None:
    """Each run's heap (anonymous RSS) and its lowest value per minute, on one chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, samples in runs.items():
        (line,) = ax.plot([s.t / 60 for s in samples], [s.rss_anon_mib for s in samples], alpha=0.35)
        floors = minute_floors(samples)
        ax.plot([t / 60 for t, _ in floors], [v for _, v in floors], color=line.get_color(), label=label)
    ax.set_xlabel("minutes")
    ax.set_ylabel("engine heap, anonymous RSS (MiB)")
    ax.set_title("soak heap: each sample (faint) and each minute's lowest")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def bounds_full_at(samples: list[Sample]) -> float | None:
    """When every bound in ``SETTLING`` was first full (seconds), or None if one never filled."""
    for s in samples:
        if s.kept and all(count >= bound for count, bound in (s.kept.get(n, (0, 1)) for n in SETTLING)):
            return s.t
    return None


def minute_row(minute: int, rows: list[Sample], previous: Sample | None) -> str:
    last = rows[-1]
    first = previous or rows[0]
    span = max(last.t - first.t, 1e-9)
    cpu = (last.cpu_s - first.cpu_s) / span
    return (
        f"  {minute:>4} {last.rss_mib:8.1f} {last.rss_mib - first.rss_mib:+7.1f} {last.lag_p99_ms:8.2f}"
        f" {max(r.lag_last_ms for r in rows):8.2f} {max(r.control_depth for r in rows):5d}"
        f" {max(r.data_depth for r in rows):5d} {(last.events - first.events) / span:8.1f}"
        f" {(last.handled - first.handled) / span:9.1f} {cpu:5.0%}"
    )


def write_chart(path: Path, samples: list[Sample]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.t / 60 for s in samples]
    split = not math.isnan(samples[0].sim_rss_mib)
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    axes[0].plot(minutes, [s.rss_mib for s in samples], label="engine + API" if split else "demo")
    axes[0].plot(minutes, [s.rss_anon_mib for s in samples], label="of which anonymous (heap)")
    if split:
        axes[0].plot(minutes, [s.sim_rss_mib for s in samples], label="simulator")
    axes[0].legend()
    axes[0].set_ylabel("RSS (MiB)")
    axes[1].plot(minutes, [s.lag_p99_ms for s in samples], label="p99 (last 60 s)")
    axes[1].plot(minutes, [s.lag_last_ms for s in samples], label="sample", alpha=0.5)
    axes[1].set_ylabel("loop lag (ms)")
    warm = [s.lag_p99_ms for s in samples if s.t >= 120.0] or [s.lag_p99_ms for s in samples]
    axes[1].set_ylim(0, max(warm) * 1.5 + 1)  # start-up's second-long lags would flatten the rest
    axes[1].legend()
    axes[2].plot(minutes, [s.control_depth for s in samples], label="control")
    axes[2].plot(minutes, [s.data_depth for s in samples], label="data")
    axes[2].set_ylabel("deepest mailbox")
    axes[2].set_xlabel("minutes")
    axes[2].legend()
    fig.suptitle("mats demo soak")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mats-soak-") as tmp:
        demo = (
            SplitDemo(Path(tmp) / "demo", Path(tmp) / "demo.log", engine_args(args), engine_env(args))
            if args.sim_process
            else Demo(Path(tmp) / "demo", Path(tmp) / "demo.log")
        )
        samples: list[Sample] = []
        seen = Dashboards()
        stop = asyncio.Event()
        try:
            await asyncio.wait_for(asyncio.to_thread(demo.wait_ready), 90)
            if args.speed != 1:
                admin_post(demo.admin_port, "/control/set_speed", {"speed": args.speed})
            print(
                f"mats demo (pid {demo.proc.pid}) on {HOST}:{demo.port}, simulator clock at {args.speed:g}x, "
                f"{args.dashboards} dashboard(s) polling every second, {args.minutes:g} min; "
                f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
            )
            print(
                f"  {'min':>4} {'RSS MiB':>8} {'dRSS':>7} {'lag p99':>8} {'lag smp':>8} {'ctrl':>5}"
                f" {'data':>5} {'events/s':>8} {'handled/s':>9} {'CPU':>5}"
            )
            boards = [asyncio.create_task(dashboard(demo, stop, seen)) for _ in range(args.dashboards)]
            conn = HttpConn(demo.port)
            began = time.monotonic()
            end = began + args.minutes * 60
            minute_start, previous, minute = 0, None, 1
            while time.monotonic() < end:
                try:
                    samples.append(await sample(demo, conn, began))
                except TimeoutError:  # the engine did not answer in 10 s: a finding, not the end of the run
                    print(f"        no answer from /api/metrics in 10 s at {time.monotonic() - began:.0f} s")
                    conn.close()
                    conn = HttpConn(demo.port)
                    continue
                if args.samples:
                    save_sample(Path(args.samples), samples[-1])
                if len(samples) >= 2:
                    for name, (count, bound) in samples[-1].kept.items():
                        if count >= bound > samples[-2].kept.get(name, (0, bound))[0]:
                            print(f"        {name} full: {count:,} kept (bound {bound:,})", flush=True)
                if samples[-1].t >= minute * 60 or time.monotonic() + args.sample_seconds >= end:
                    print(minute_row(minute, samples[minute_start:], previous), flush=True)
                    previous, minute_start, minute = samples[-1], len(samples), minute + 1
                await asyncio.sleep(max(0.0, min(args.sample_seconds, end - time.monotonic())))
            conn.close()
            stop.set()
            await asyncio.gather(*boards)
            everything = "/api/fills?limit=1000000"
            fills = len(await get_json(HttpConn(demo.port), demo.port, everything, demo.token))
        finally:
            stop.set()
            code = demo.stop()
        log_text = demo.log_path.read_text() if demo.log_path.exists() else ""

    warm = [s for s in samples if s.t >= 60.0] or samples
    slope = slope_per_hour([(s.t, s.rss_mib) for s in warm])
    sim_slope = slope_per_hour([(s.t, s.sim_rss_mib) for s in warm])
    anon_slope = slope_per_hour([(s.t, s.rss_anon_mib) for s in warm])
    file_slope = slope_per_hour([(s.t, s.rss_file_mib) for s in warm])
    # Containers bounded by a (virtual) day fill for that long by design; after it, flat means flat. With
    # --small-bounds the engine's fill in a minute or two.
    day_s = 180.0 if args.small_bounds else 86_400.0 / args.speed
    full_at = bounds_full_at(samples)
    if not args.small_bounds:  # count bounds (10,000 fills and orders) can fill later than a day at speed
        day_s = max(day_s, full_at if full_at is not None else math.inf)
    if args.settle_minutes:
        day_s = args.settle_minutes * 60.0
    slopes = settled_slopes(samples, day_s)
    long_enough = slopes is not None
    settled_slope, settled_anon, settled_floor = slopes or (math.nan, math.nan, math.nan)
    last_minute = [s for s in samples if s.t >= samples[-1].t - 60.0]
    per_minute_p99 = max(s.lag_p99_ms for s in warm if s.t >= 120.0 or s is warm[-1])  # 60 s window
    stalls = logged_stalls(log_text)
    errors = [line for line in log_text.splitlines() if "[error" in line and line[:27].endswith("Z")]
    out = {
        "bench": "soak",
        "minutes": round(samples[-1].t / 60, 2),
        "speed": args.speed,
        "rss_start_mib": round(samples[0].rss_mib, 1),
        "rss_end_mib": round(samples[-1].rss_mib, 1),
        "rss_slope_mib_per_h": round(slope, 2),
        "rss_anon_slope_mib_per_h": round(anon_slope, 2),
        "rss_file_slope_mib_per_h": round(file_slope, 2),
        "settled_after_min": round(day_s / 60, 1) if math.isfinite(day_s) else None,
        "bounds_full_at_min": round(full_at / 60, 1) if full_at is not None else None,
        "kept_at_end": samples[-1].kept,
        "rss_settled_slope_mib_per_h": round(settled_slope, 2),
        "rss_anon_settled_slope_mib_per_h": round(settled_anon, 2),
        "rss_anon_floor_settled_slope_mib_per_h": round(settled_floor, 2),
        "sim_process": bool(args.sim_process),
        "sim_rss_start_mib": round(samples[0].sim_rss_mib, 1),
        "sim_rss_end_mib": round(samples[-1].sim_rss_mib, 1),
        "sim_rss_slope_mib_per_h": round(sim_slope, 2),
        "loop_lag_p99_ms": round(per_minute_p99, 2),
        "loop_lag_max_ms": round(max(s.lag_max_ms for s in samples), 1),
        "stalls_100ms": len(stalls),
        "max_control_depth": max(s.control_depth for s in samples),
        "max_data_depth": max(s.data_depth for s in samples),
        "last_minute_max_depth": max(s.control_depth + s.data_depth for s in last_minute),
        "events": samples[-1].events,
        "fills": fills,
        "dashboard_polls": seen.polls,
        "dashboard_errors": seen.errors + len(seen.stream_errors),
        "stream_messages": seen.stream_messages,
        "error_log_lines": len(errors),
        "exit_code": code,
    }
    print()
    print(
        f"RSS {out['rss_start_mib']} -> {out['rss_end_mib']} MiB; slope after the first minute "
        f"{slope:+.2f} MiB/h (least squares over {len(warm)} samples)"
        + (" — the engine + API process" if args.sim_process else "")
    )
    print(
        f"  of which anonymous (heap) {anon_slope:+.2f} MiB/h, file-backed (libraries, LMDB/SQLite pages) "
        f"{file_slope:+.2f} MiB/h"
    )
    if long_enough:
        why = (
            "--settle-minutes"
            if args.settle_minutes
            else "--small-bounds"
            if args.small_bounds
            else f"{', '.join(SETTLING)} full, and a virtual day"
        )
        print(
            f"  after minute {day_s / 60:.0f} (the engine's bounded containers full: {why}): "
            f"slope {settled_slope:+.2f} MiB/h, anonymous {settled_anon:+.2f} MiB/h"
        )
        print(
            f"  the same, through each minute's lowest anonymous RSS (buffers held for seconds left out): "
            f"{settled_floor:+.2f} MiB/h"
        )
    kept = ", ".join(f"{name} {count:,}/{bound:,}" for name, (count, bound) in samples[-1].kept.items())
    print(f"  kept in memory at the end (count/bound): {kept}")
    if full_at is None and not args.small_bounds:
        print(f"  {', '.join(SETTLING)} not all full yet: the slope includes their filling, by design")
    if args.sim_process:
        print(
            f"simulator process: RSS {out['sim_rss_start_mib']} -> {out['sim_rss_end_mib']} MiB; "
            f"slope after the first minute {sim_slope:+.2f} MiB/h"
        )
    print(
        f"loop lag: worst p99 of a 60 s window after the first minute {per_minute_p99:.2f} ms, "
        f"max {out['loop_lag_max_ms']} ms "
        f"(start-up included), {len(stalls)} stalls >= 100 ms logged"
    )
    print(
        f"mailboxes: deepest control {out['max_control_depth']}, data {out['max_data_depth']} "
        f"(last minute {out['last_minute_max_depth']}; deepest actor at the end: {samples[-1].deepest})"
    )
    print(
        f"trading: {out['events']} events, {fills} fills in the blotter (those kept); "
        f"dashboards: {seen.polls} polls, "
        f"{out['dashboard_errors']} errors, {seen.stream_messages} stream messages; "
        f"{len(errors)} error log lines; exit code {code}"
    )
    for line in errors[:5] + seen.stream_errors[:3]:
        print(f"  {line[:160]}")
    for line in summary(log_text, args.slow_callbacks):
        print(line)
    # The heap is what must not grow. File-backed pages are the LMDB and SQLite files' pages the process
    # touched: they grow with the data written (which is kept, by design) and the kernel takes them back
    # under memory pressure.
    judged = settled_anon if long_enough else anon_slope
    flat = judged < RSS_SLOPE_GOAL_MIB_PER_H
    calm = out["last_minute_max_depth"] <= DEPTH_GOAL
    quick = per_minute_p99 < LOOP_LAG_P99_GOAL_MS
    print()
    print("Goals (issue 12)")
    which = (
        f"after minute {day_s / 60:.0f} (the bounds filled)"
        if long_enough
        else "after the first minute (the bounds were still filling: not yet a verdict)"
    )
    print(
        f"  memory flat: heap (anonymous RSS) slope {which} < {RSS_SLOPE_GOAL_MIB_PER_H:g} MiB/h: "
        f"{judged:+.2f} -> {verdict(flat)}"
    )
    print(
        f"  mailboxes do not grow: depth <= {DEPTH_GOAL} in the last minute: "
        f"{out['last_minute_max_depth']} -> {verdict(calm)}"
    )
    print(
        f"  loop lag p99 < {LOOP_LAG_P99_GOAL_MS:g} ms in every minute: {per_minute_p99:.2f} ms -> "
        f"{verdict(quick)}"
    )
    if args.chart:
        write_chart(Path(args.chart), samples)
        print(f"chart: {args.chart}")
    return out


def engine_args(args: argparse.Namespace) -> list[str]:
    """The options of this script that the engine's own process (``--engine-against``) takes."""
    return [
        *(["--small-bounds"] if args.small_bounds else []),
        *(["--slow-callbacks", str(args.slow_callbacks)] if args.slow_callbacks else []),
        *(["--trace-growth", str(args.trace_growth)] if args.trace_growth else []),
        *(["--malloc-stats"] if args.malloc_stats else []),
    ]


def engine_env(args: argparse.Namespace) -> dict[str, str]:
    """``--engine-env NAME=VALUE`` as a mapping."""
    pairs = [item.partition("=") for item in args.engine_env]
    if bad := [name for name, eq, _ in pairs if not name or not eq]:
        raise SystemExit(f"--engine-env takes NAME=VALUE, not {bad[0]!r}")
    return {name: value for name, _, value in pairs}


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--speed", type=float, default=20.0, help="simulator clock speed")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--dashboards", type=int, default=1, help="UI stand-ins polling and streaming")
    parser.add_argument("--chart", default="", help="write a PNG chart here (matplotlib)")
    parser.add_argument("--json", action="store_true", help="end with one line of JSON: the figures")
    parser.add_argument(
        "--sim-process", action="store_true", help="run the simulator as its own process (memory apart)"
    )
    parser.add_argument(
        "--small-bounds",
        action="store_true",
        help="with --sim-process: every bound on what the engine keeps set small, so they fill at once",
    )
    parser.add_argument(
        "--settle-minutes",
        type=float,
        default=0.0,
        help="judge the slope after this minute (default: once the bounds filled; 3 with --small-bounds)",
    )
    parser.add_argument(
        "--slow-callbacks",
        type=float,
        default=0.0,
        metavar="MS",
        help="with --sim-process: list the engine's loop callbacks over MS each minute",
    )
    parser.add_argument(
        "--trace-growth",
        type=float,
        default=0.0,
        metavar="MIN",
        help="with --sim-process: from minute MIN, trace the engine's Python allocations; report what stays",
    )
    parser.add_argument(
        "--malloc-stats",
        action="store_true",
        help="with --sim-process: every 5 minutes, where the engine's heap is (pymalloc, glibc malloc)",
    )
    parser.add_argument(
        "--samples", default="", metavar="FILE", help="write each sample to FILE (JSON lines)"
    )
    parser.add_argument(
        "--rejudge",
        action="append",
        default=[],
        metavar="[LABEL=]FILE",
        help="judge the samples in FILE (--samples) and stop; repeat to chart several runs' heaps",
    )
    parser.add_argument(
        "--engine-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --sim-process: set NAME in the engine's process only (repeatable)",
    )
    parser.add_argument("--engine-against", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_against:
        Path(args.data_dir).mkdir(parents=True, exist_ok=True)
        try:
            asyncio.run(engine_against(args.engine_against, args.data_dir, args))
        except KeyboardInterrupt:
            return 130
        return 0
    if args.rejudge:
        return rejudge(args)
    if args.samples:
        Path(args.samples).write_text("")
    out = asyncio.run(soak(args))
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
