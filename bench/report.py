"""One report: every benchmark in bench/, each as a subprocess with a time limit, into ``bench/REPORT.md``.

    .venv/bin/python bench/report.py [--full] [--only api_load,soak] [--out bench/REPORT.md]
                                     [--reuse soak=/tmp/soak30.log]

Each bench ends its output with one line of JSON (``--json``; ``live_latency.py`` always prints it);
this script reads that line and writes a Markdown table: figure, value, goal, baseline, ratio, and
whether the goal is met. The baselines are measured by the benches themselves in the same run (bare
uvicorn and a Litestar "hello", a bare asyncio hop and echo, naive ArcticDB appends, a bare Python loop,
backtrader). Short runs by default (the soak for 2 minutes); ``--full`` runs each bench's own defaults
(the soak for 30 minutes). The benches run one after another: the machine's CPUs are shared, and its
state (CPUs, load average) is recorded with the figures. Each bench's output is kept (``--logs``, by
default a temp dir) and its tail is folded into the report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TAIL_LINES = 45


@dataclass(frozen=True)
class Bench:
    name: str
    short: list[str]
    full: list[str]
    timeout_s: float
    full_timeout_s: float
    script: str = ""  # bench/<script>.py, when it is not bench/<name>.py (one script, other arguments)

    @property
    def path(self) -> Path:
        return BENCH / f"{self.script or self.name}.py"


BENCHES = [
    Bench("api_load", ["--seconds", "5", "--ws-seconds", "5", "--idle-seconds", "3", "--probe-bars", "150",
          "--json"], ["--json"], 400, 500),
    # the same probe with the load clients at nice 10: the stand-in for browsers on other machines, whose
    # HTTP load the engine serves without them taking its 2 CPUs
    Bench("api_load_remote_clients", ["--seconds", "3", "--ws-seconds", "3", "--idle-seconds", "2",
          "--probe-bars", "150", "--client-nice", "10", "--json"], ["--client-nice", "10", "--json"],
          400, 500, script="api_load"),
    Bench("live_latency", ["--bars", "600", "--seconds", "4"], [], 400, 500),
    Bench("storage_contention", ["--seconds", "4", "--rounds", "1", "--json"], ["--json"], 300, 400),
    Bench("sim_roundtrip", ["--orders", "500", "--json"], ["--json"], 300, 400),
    Bench("fills_journal", ["--fills", "20000", "--naive-fills", "500", "--json"], ["--json"], 300, 600),
    Bench("backtest_quick", ["--bars", "50000", "--repeat", "1", "--json"], ["--json"], 300, 600),
    Bench("backtest_vs_backtrader", ["--bars", "200000", "--bt-bars", "20000", "--repeat", "1",
          "--no-profile", "--json"], ["--json"], 600, 1200),
    Bench("soak", ["--minutes", "2", "--json"], ["--minutes", "30", "--json"], 400, 30 * 60 + 400),
    Bench("chaos", ["--examples", "30"], [], 600, 1800),  # no JSON: its exit code says if invariants held
]  # fmt: skip


@dataclass(frozen=True)
class Row:
    bench: str
    figure: str
    key: str
    unit: str
    goal: str
    met: Callable[[float], bool] | None
    baseline_key: str = ""
    baseline: str = ""  # what the baseline is
    ratio_goal: Callable[[float], bool] | None = None  # when the goal is a ratio to the baseline


def at_least(x: float) -> Callable[[float], bool]:
    return lambda v: v >= x


def below(x: float) -> Callable[[float], bool]:
    return lambda v: v < x


ROWS = [
    Row("api_load", "GET /api/portfolio", "mats_api_portfolio_req_s", "req/s", ">= 3,000", at_least(3000),
        "bare_api_portfolio_req_s", "bare uvicorn + ASGI, same bytes"),
    Row("api_load", "GET /api/portfolio vs a Litestar hello", "mats_api_portfolio_req_s", "req/s", "", None,
        "hello_api_portfolio_req_s", "uvicorn + one-route Litestar app"),
    Row("api_load", "GET /api/portfolio p99", "mats_api_portfolio_p99_ms", "ms", "< 20", below(20),
        "bare_api_portfolio_p99_ms", "bare uvicorn + ASGI"),
    Row("api_load", "GET /api/fills", "mats_api_fills_req_s", "req/s", ">= 3,000", at_least(3000),
        "bare_api_fills_req_s", "bare uvicorn + ASGI, same bytes"),
    Row("api_load", "GET /api/fills vs a Litestar hello", "mats_api_fills_req_s", "req/s", "", None,
        "hello_api_fills_req_s", "uvicorn + one-route Litestar app"),
    Row("api_load", "GET /api/fills p99", "mats_api_fills_p99_ms", "ms", "< 20", below(20),
        "bare_api_fills_p99_ms", "bare uvicorn + ASGI"),
    Row("api_load", "loop lag p99 under HTTP load", "loop_lag_http_p99_ms", "ms", "< 10", below(10),
        "loop_lag_idle_p99_ms", "same engine, no HTTP load"),
    Row("api_load", "tick-to-order p99, API under HTTP load", "tick_to_order_loaded_p99_ms", "ms", "< 2",
        below(2), "tick_to_order_alone_p99_ms", "same probe, no API"),
    Row("api_load", "tick-to-order p50, API under HTTP load", "tick_to_order_loaded_p50_ms", "ms", "", None,
        "tick_to_order_alone_p50_ms", "same probe, no API"),
    Row("api_load", "tick-to-order p99, HTTP load, no loop share", "tick_to_order_loaded_unshared_p99_ms",
        "ms", "", None, "tick_to_order_alone_p99_ms", "same probe, no API"),
    Row("api_load_remote_clients", "tick-to-order p99, API under HTTP load, clients at nice 10",
        "tick_to_order_loaded_p99_ms", "ms", "< 2", below(2), "tick_to_order_alone_p99_ms",
        "same probe, no API"),
    Row("api_load", "WebSocket clients with every event", "ws_clients_complete", "clients", "100 of 100",
        at_least(100)),
    Row("live_latency", "tick-to-order p99", "tick_to_order_p99_ms", "ms", "< 1 (issue 7)", below(1),
        "bare_hop_p99_ms", "bare asyncio read → queue → write"),
    Row("live_latency", "order → position p50", "order_to_position_p50_ms", "ms", "", None,
        "bare_trip_p50_ms", "bare loopback round trip"),
    Row("live_latency", "loop lag p99, 98 strategies, 5,000 bars/s", "loop_lag_98_strategies_bars_p99_ms",
        "ms", "< 5 (issue 7)", below(5), "bare_loop_lag_p99_ms", "98 bare asyncio queue consumers"),
    Row("live_latency", "the same, also trading ~130 orders/s", "loop_lag_98_strategies_p99_ms", "ms", "< 5",
        below(5), "bare_loop_lag_p99_ms", "98 bare asyncio queue consumers"),
    Row("live_latency", "loop's own CPU per iteration p99, 98 trading", "loop_cpu_per_iteration_p99_ms", "ms",
        "", None),
    Row("storage_contention", "loop late p99, ArcticDB reading on its CPU", "loop_late_p99_ms", "ms", "",
        None, "nice0_late_p99_ms", "the storage threads at nice 0"),
    Row("sim_roundtrip", "order → fill p50, simulator in process", "in_process_order_p50_ms", "ms", "< 2",
        below(2), "echo_p50_ms", "bare asyncio echo"),
    Row("sim_roundtrip", "orders/s pipelined, simulator in process", "in_process_orders_s", "orders/s",
        ">= 1,000", at_least(1000)),
    Row("sim_roundtrip", "order → fill p50, simulator own process", "own_process_order_p50_ms", "ms", "< 2",
        below(2), "echo_p50_ms", "bare asyncio echo"),
    Row("sim_roundtrip", "orders/s pipelined, simulator own process", "own_process_orders_s", "orders/s",
        ">= 1,000", at_least(1000)),
    Row("fills_journal", "fills durably acknowledged", "journal_ack_fills_s", "fills/s",
        ">= 10,000 and >= 50x naive", at_least(10_000), "naive_append_fills_s",
        "naive ArcticDB append per fill", at_least(50)),
    Row("fills_journal", "fills journal → ArcticDB", "arctic_flush_fills_s", "fills/s", "", None,
        "naive_append_fills_s", "naive ArcticDB append per fill"),
    Row("fills_journal", "folded fills read (warm)", "warm_read_ms", "ms", "< 10", below(10)),
    Row("backtest_vs_backtrader", "backtest, the book", "mats_book_bars_s", "bars/s", ">= 50x backtrader",
        None, "backtrader_book_bars_s", "backtrader, same book", at_least(50)),
    Row("backtest_vs_backtrader", "backtest, the book vs its bare loop", "mats_book_bars_s", "bars/s", "",
        None, "bare_loop_book_bars_s", "bare Python loop, same arithmetic"),
    Row("backtest_vs_backtrader", "trades identical to backtrader", "identical_trades", "", "yes",
        at_least(1)),
    Row("backtest_quick", "backtest, SmaCross alone", "sma_cross_bars_s", "bars/s", "", None,
        "bare_loop_bars_s", "bare Python loop"),
    Row("soak", "heap slope after the bounds filled", "rss_anon_settled_slope_mib_per_h", "MiB/h", "< 10",
        below(10)),
    Row("soak", "the same, through each minute's lowest heap", "rss_anon_floor_settled_slope_mib_per_h",
        "MiB/h", "", None),
    Row("soak", "file-backed RSS slope (LMDB, SQLite pages)", "rss_file_slope_mib_per_h", "MiB/h", "", None),
    Row("soak", "RSS slope after the first minute, bounds filling", "rss_slope_mib_per_h", "MiB/h", "", None),
    Row("soak", "loop lag p99 (60 s windows)", "loop_lag_p99_ms", "ms", "< 10", below(10)),
    Row("soak", "deepest mailbox, last minute", "last_minute_max_depth", "messages", "<= 100",
        lambda v: v <= 100),
    Row("soak", "dashboard errors", "dashboard_errors", "", "0", lambda v: v == 0),
]  # fmt: skip


@dataclass
class Outcome:
    bench: Bench
    code: int | None  # None: timed out
    seconds: float
    figures: dict[str, Any]
    output: str
    load_before: float
    load_after: float
    reused: str = ""  # the saved output this came from, when the bench was not run here


def last_json(output: str) -> dict[str, Any]:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{") and line.endswith("}"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def reused_outcome(bench: Bench, log: Path) -> Outcome:
    """A bench already run (a 30-minute soak, say, or this script's own earlier run), from its saved output
    and, if this script ran it, the ``.meta.json`` beside it (exit code, seconds, load averages)."""
    output = log.read_text()
    figures = last_json(output)
    meta_path = log.with_name(log.name + ".meta.json")
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    code = meta.get("code", 0 if figures else None)
    return Outcome(
        bench,
        code,
        float(meta.get("seconds", math.nan)),
        figures,
        output,
        float(meta.get("load_before", math.nan)),
        float(meta.get("load_after", math.nan)),
        str(log),
    )


def run_bench(bench: Bench, full: bool, logs: Path) -> Outcome:
    command = [sys.executable, str(bench.path), *(bench.full if full else bench.short)]
    limit = bench.full_timeout_s if full else bench.timeout_s
    print(f"-- {bench.name}: {' '.join(command[1:])} (limit {limit:.0f} s)", flush=True)
    load_before, started = os.getloadavg()[0], time.monotonic()
    log = logs / f"{bench.name}.txt"
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            code: int | None = process.wait(limit)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            code = None
    output = log.read_text()
    outcome = Outcome(
        bench, code, time.monotonic() - started, last_json(output), output, load_before, os.getloadavg()[0]
    )
    meta = {
        "code": code,
        "seconds": outcome.seconds,
        "load_before": load_before,
        "load_after": outcome.load_after,
    }
    log.with_name(log.name + ".meta.json").write_text(json.dumps(meta))  # for --reuse
    state = "timed out" if code is None else f"exit {code}"
    print(f"   {state} after {outcome.seconds:.0f} s; {len(outcome.figures)} figures", flush=True)
    return outcome


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float) or math.isnan(value):
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def table_row(row: Row, figures: dict[str, Any]) -> str:
    value = figures.get(row.key)
    base = figures.get(row.baseline_key) if row.baseline_key else None
    ratio = math.nan
    if isinstance(value, int | float) and isinstance(base, int | float) and base:
        ratio = float(value) / float(base)
    status = "—"
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        checks = []
        if row.met is not None:
            checks.append(row.met(float(value)))
        if row.ratio_goal is not None and not math.isnan(ratio):
            checks.append(row.ratio_goal(ratio))
        if checks:
            status = "MET" if all(checks) else "**NOT MET**"
    elif value is None and (row.met is not None or row.ratio_goal is not None):
        status = "no figure"
    unit = f" {row.unit}" if row.unit and not isinstance(value, bool) else ""
    baseline = f"{fmt(base)}{unit} ({row.baseline})" if row.baseline_key else "—"
    ratio_text = f"{ratio:.2f}x" if not math.isnan(ratio) else "—"
    return (
        f"| {row.bench} | {row.figure} | {fmt(value)}{unit if value is not None else ''} | "
        f"{row.goal or '—'} | {baseline} | {ratio_text} | {status} |"
    )


def machine() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    mem = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line),
        "0",
    )
    return (
        f"{os.cpu_count()} CPUs, {int(mem) / 1024 / 1024:.1f} GiB RAM, {platform.platform()}, "
        f"Python {platform.python_version()}; commit {commit or '?'}{' with local changes' if dirty else ''}"
    )


def write_report(path: Path, outcomes: list[Outcome], full: bool, began: datetime) -> None:
    figures: dict[str, dict[str, Any]] = {o.bench.name: o.figures for o in outcomes}
    lines = [
        "# MATS benchmarks",
        "",
        f"Written by `bench/report.py{' --full' if full else ''}` on {began:%Y-%m-%d %H:%M} UTC. "
        f"Machine: {machine()}.",
        "",
        "Every figure comes with the baseline the bench measured in the same run; the ratio is value / "
        "baseline. The machine's CPUs are shared (other processes' work shows in the load averages "
        "below), so absolute figures are noisy; the ratios much less so."
        + ("" if full else " Short runs (`--full` for each bench's defaults, the soak for 30 minutes)."),
        "",
        "| bench | figure | value | goal | baseline | ratio | goal met |",
        "|---|---|---|---|---|---|---|",
    ]
    ran = {o.bench.name for o in outcomes}
    lines += [table_row(row, figures.get(row.bench, {})) for row in ROWS if row.bench in ran]
    listed = {row.key for row in ROWS} | {row.baseline_key for row in ROWS}
    extra = [
        f"| {o.bench.name} | `{key}` | {fmt(value)} | — | — | — | — |"
        for o in outcomes
        for key, value in o.figures.items()
        if key not in listed and key != "bench" and (o.bench.name not in {r.bench for r in ROWS})
    ]
    lines += extra
    lines += [
        f"| {o.bench.name} | the run (no figures printed) | exit {o.code} | exit 0 | — | — | "
        f"{'MET' if o.code == 0 else '**NOT MET**'} |"
        for o in outcomes
        if not o.figures and o.bench.name not in {r.bench for r in ROWS}
    ]
    lines += [
        "",
        "## Runs",
        "",
        "| bench | arguments | exit | seconds | load average before → after |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        exit_text = "timed out" if o.code is None else str(o.code)
        arguments = (
            f"run earlier, output in {o.reused}"
            if o.reused
            else " ".join(o.bench.full if full else o.bench.short)
        )
        lines.append(
            f"| {o.bench.name} | `{arguments}` | {exit_text} | {o.seconds:.0f} | "
            f"{o.load_before:.2f} → {o.load_after:.2f} |"
        )
    lines += ["", "## Output (last lines of each bench)", ""]
    for o in outcomes:
        tail = "\n".join(o.output.rstrip().splitlines()[-TAIL_LINES:])
        lines += [
            "<details>",
            f"<summary>{o.bench.name}</summary>",
            "",
            "```",
            tail,
            "```",
            "",
            "</details>",
            "",
        ]
    path.write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="each bench's defaults; the soak for 30 minutes")
    parser.add_argument("--only", default="", help="comma-separated bench names")
    parser.add_argument("--out", default=str(BENCH / "REPORT.md"))
    parser.add_argument("--logs", default="", help="keep each bench's output here (default: a temp dir)")
    parser.add_argument(
        "--reuse",
        action="append",
        default=[],
        metavar="NAME=LOG",
        help="take a bench's figures from output saved earlier instead of running it (repeatable)",
    )
    args = parser.parse_args()
    reuse = dict(item.split("=", 1) for item in args.reuse)
    only = {name for name in args.only.split(",") if name}
    benches = [b for b in BENCHES if b.path.exists() and (not only or b.name in only)]
    unknown = only - {b.name for b in benches}
    if unknown:
        parser.error(f"no such bench: {', '.join(sorted(unknown))}")
    logs = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="mats-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    print(f"each bench's output: {logs}/")
    began = datetime.now(UTC)
    outcomes = [
        reused_outcome(bench, Path(reuse[bench.name]))
        if bench.name in reuse
        else run_bench(bench, args.full, logs)
        for bench in benches
    ]
    write_report(Path(args.out), outcomes, args.full, began)
    print(f"wrote {args.out}")
    return 0 if all(o.code == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
