"""Where the demo's memory goes: the simulator, the engine and the API in THIS process, traced. Issue 12.

    .venv/bin/python bench/memory_profile.py [--minutes 4] [--speed 20] [--every 60] [--frames 1] [--top 25]

Builds what ``mats demo`` builds (``mats.launch``: a ``SimServer`` on a loopback port, the engine, its
store on a temp dir, the API with a stand-in dashboard polling the portfolio, fills and orders every
second), speeds the simulator's clock up, and every ``--every`` seconds takes a ``tracemalloc``
snapshot. At the end it prints, from the first snapshot after warm-up to the last:

- the allocation sites that grew most (``file:line``; ``--frames N`` groups by the first frame inside
  ``mats``/``ib_async`` of an N-frame traceback instead, so a site in a shared helper is charged to its
  caller), and the same grouped by file;
- the object counts per type that grew (``gc.get_objects()``, which sees containers only);
- the lengths of the obvious containers of the simulator and the engine, at every snapshot;
- RSS and traced memory, per hour of wall time at that speed.

tracemalloc slows allocation down (about 2x here) and sees only Python's allocator: ArcticDB's and
SQLite's native memory shows in RSS only. Compare RSS growth with traced growth to tell them apart.

``--small-bounds`` lowers every bound on what is kept (finished orders, fills, revisions, the tape's fine
window) so they fill within the first interval: what still grows after that is growth without a bound.

``--new-objects TYPE`` groups the objects of that type made since warm-up by what they hold, and shows
who holds a sample of each group; ``--trim`` calls ``malloc_trim(0)`` before each snapshot and prints what
it gave back (how much of the heap is memory glibc keeps free).

``--arctic N`` measures ArcticDB alone instead: the real journal and flusher on LMDB in a temp dir, N
flushes of two fills each to ``{account}/fills``, RSS sampled every N/10 flushes, under one compaction
policy (``--compact-every K`` flushes; 0 never; ``--append-compacts`` passes ``compact_data=True`` to
every append instead). Run one policy per process, so each RSS starts clean.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import datetime as dt
import gc
import linecache
import math
import os
import re
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from api_load import HttpConn, request_bytes  # noqa: E402

MIB = 1024 * 1024
OURS = re.compile(r"[/\\](mats|ib_async|litestar|arcticdb)[/\\]")


def rss_mib(field: str = "VmRSS") -> float:
    """Resident MiB of this process; ``RssAnon`` (heap) or ``RssFile`` (libraries, mapped files) apart."""
    match = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def rss_parts() -> str:
    traced = f", traced {tracemalloc.get_traced_memory()[0] / MIB:6.1f}" if tracemalloc.is_tracing() else ""
    anon, file = rss_mib("RssAnon"), rss_mib("RssFile")
    return f"RSS {rss_mib():7.1f} MiB (anon {anon:7.1f}, file {file:6.1f}{traced})"


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
            "keepcost",
        )
    ]  # fmt: skip


def heap_parts() -> str:
    """Who holds the anonymous memory: Python's object allocator (its arenas, and the bytes of live blocks
    in them) versus C malloc (ArcticDB, SQLite, numpy: in use, and freed but kept)."""
    # _debugmallocstats writes to the C stderr; a file, not a pipe, which its output can overfill
    with tempfile.TemporaryFile("w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    arenas = re.search(r"arenas allocated current\s+=\s+([\d,]+)", text)
    live = re.search(r"# bytes in allocated blocks\s+=\s+([\d,]+)", text)
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    py_arenas = int(arenas.group(1).replace(",", "")) if arenas else 0  # 1 MiB each in 3.11
    py_live = int(live.group(1).replace(",", "")) / MIB if live else math.nan
    return (
        f"python arenas {py_arenas:5d} MiB (live blocks {py_live:6.1f}), "
        f"malloc in use {(info.uordblks + info.hblkhd) / MIB:6.1f} MiB, free kept {info.fordblks / MIB:6.1f}"
    )


def container_sizes(sim: Any, engine: Any) -> dict[str, int]:
    """Lengths of the containers that could grow with trading; a missing attribute reads as -1."""

    def size(get: Callable[[], Any]) -> int:
        try:
            return len(get())
        except (AttributeError, TypeError, KeyError):
            return -1

    t = engine.trading
    hub = engine.hub
    probes: dict[str, Callable[[], Any]] = {
        "sim.exchange._orders": lambda: sim.exchange._orders,
        "sim.exchange._working": lambda: sim.exchange._working,
        "sim.exchange._api_orders": lambda: sim.exchange._api_orders,
        "sim.exchange._executions": lambda: sim.exchange._executions,
        "sim.exchange._timers": lambda: sim.exchange._timers,
        "sim.clock._heap": lambda: sim.clock._heap,
        "sim._sessions": lambda: sim._sessions,
        "portfolio._fills": lambda: t.portfolio._fills,
        "portfolio._commissions": lambda: t.portfolio._commissions,
        "journal._revisions": lambda: t.journal._revisions,
        "trades.orders": lambda: t.trades.orders,
        "trades._forgotten": lambda: t.trades._forgotten,
        "bus._history": lambda: engine.bus._history,
        "bus._subscribers": lambda: engine.bus._subscribers,
        "flusher.fills_table._pos": lambda: t.flusher.fills._pos,
    }
    for cid, client in getattr(hub, "clients", {}).items():
        ib = getattr(client, "ib", None)
        if ib is None:
            continue
        probes[f"ib[{cid}].trades"] = lambda ib=ib: ib.wrapper.trades
        probes[f"ib[{cid}].fills"] = lambda ib=ib: ib.wrapper.fills
        probes[f"ib[{cid}].permId2Trade"] = lambda ib=ib: ib.wrapper.permId2Trade
        probes[f"ib[{cid}].reqId2Subscriber"] = lambda ib=ib: ib.wrapper.reqId2Subscriber
        probes[f"ib[{cid}]._futures"] = lambda ib=ib: ib.wrapper._futures
        probes[f"ib[{cid}]._results"] = lambda ib=ib: ib.wrapper._results
        probes[f"client[{cid}]._finished"] = lambda client=client: client._finished
    return {name: size(get) for name, get in probes.items()}


def type_counts() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


def shape(obj: Any) -> str:
    """A container's kind by what it holds: ``tuple[3](str,float,int)``, to group thousands of them."""
    if not isinstance(obj, (tuple, list, dict, set, frozenset, deque)):
        return type(obj).__qualname__
    items = list(obj.values() if isinstance(obj, dict) else obj)[:6]
    inner = ",".join(type(i).__qualname__ for i in items)
    return f"{type(obj).__qualname__}[{len(obj)}]({inner})"


def new_objects(kind: str, known: set[int], top: int) -> None:
    """Objects of ``kind`` that appeared since ``known`` was taken, grouped by shape, with who holds a
    sample of each of the largest groups (``--new-objects``)."""
    fresh = [o for o in gc.get_objects() if type(o).__qualname__ == kind and id(o) not in known]
    groups: dict[str, list[Any]] = {}
    for obj in fresh:
        groups.setdefault(shape(obj), []).append(obj)
    print(f"\n{len(fresh)} new {kind} objects since warm-up, by shape:")
    for name, members in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:top]:
        sample = members[len(members) // 2]
        referrers = [r for r in gc.get_referrers(sample) if r is not fresh and r is not members]
        holders = Counter(shape(r)[:60] for r in referrers)
        print(f"  {len(members):8d}  {name[:80]}\n            e.g. {repr(sample)[:150]}")
        print(f"            held by {dict(holders.most_common(4))}")
    del fresh, groups


def site(trace: tracemalloc.Statistic | tracemalloc.StatisticDiff, frames: int) -> str:
    frames_newest_first = list(reversed(trace.traceback))  # tracemalloc lists the oldest frame first
    if frames > 1:
        for frame in frames_newest_first:
            if OURS.search(frame.filename):
                return f"{short(frame.filename)}:{frame.lineno}"
    frame = frames_newest_first[0]
    return f"{short(frame.filename)}:{frame.lineno}"


def short(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def grouped_growth(
    old: tracemalloc.Snapshot, new: tracemalloc.Snapshot, frames: int, key: str
) -> list[tuple[str, int, int]]:
    """(site, bytes grown, blocks grown), merged by the site the traceback is charged to."""
    merged: dict[str, list[int]] = {}
    for stat in new.compare_to(old, "traceback" if frames > 1 else key):
        name = site(stat, frames) if key == "lineno" else short(stat.traceback[-1].filename)
        if frames > 1 and key == "filename":
            name = name.rsplit(":", 1)[0]
        entry = merged.setdefault(name, [0, 0])
        entry[0] += stat.size_diff
        entry[1] += stat.count_diff
    return sorted(((k, v[0], v[1]) for k, v in merged.items()), key=lambda r: -r[1])


def break_trade_cycles() -> None:
    """The change proposed for ``ManagedClient.prune_finished`` (src/mats/ib/connection.py), applied here to
    measure it: eventkit's ``Event.emit`` keeps its arguments as the event's last value, so a Trade whose
    ``statusEvent`` emitted the Trade is a reference cycle, freed only by a full collection, which the
    engine's GC thresholds (``gc.set_threshold(5_000, 500, 1_000)``) make all but never happen."""
    from eventkit import Event
    from ib_async import Trade

    from mats.ib.connection import ManagedClient

    original = ManagedClient.prune_finished

    def prune_finished(self: ManagedClient, now: float | None = None) -> int:
        finished = [trade for _, trade in self._finished]
        pruned = original(self, now)
        for trade in finished[:pruned]:
            for name in Trade.events:
                getattr(trade, name)._value = Event.NO_VALUE
        return pruned

    ManagedClient.prune_finished = prune_finished  # type: ignore[method-assign]


async def stream_reader(port: int, token: str, stop: asyncio.Event) -> int:
    """Holds an ``/api/stream`` socket and reads every event, as the UI (and bench/soak.py) does."""
    from websockets.asyncio.client import connect

    read = 0
    async with connect(f"ws://127.0.0.1:{port}/api/stream", close_timeout=2) as ws:
        await ws.send(f'{{"token": "{token}"}}')
        while not stop.is_set():
            try:
                await asyncio.wait_for(ws.recv(), 1.0)
                read += 1
            except TimeoutError:
                continue
    return read


async def dashboard(port: int, token: str, stop: asyncio.Event) -> int:
    polls = 0
    conn = HttpConn(port)
    while not stop.is_set():
        for path in ("/api/portfolio", "/api/fills", "/api/orders"):
            try:
                await conn.get(request_bytes(port, path, token))
                polls += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                conn.close()
                conn = HttpConn(port)
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass
    conn.close()
    return polls


def shrink_engine_bounds(engine: Any, keep: int = 100) -> None:
    """Every bound on what the running engine keeps, small (``--small-bounds``; bench/soak.py uses it too):
    they fill within a minute, so what still grows after that grows without a bound."""
    trading = engine.trading
    trading.portfolio.keep_fills = keep
    trading.portfolio.keep_fills_for = dt.timedelta(0)
    trading.journal.keep_revisions = keep
    trading.trades.keep_finished = keep
    trading.trades._forgotten.keep = keep
    engine.bus._history = deque(engine.bus._history, maxlen=10 * keep)


async def profile(args: argparse.Namespace) -> None:
    from mats.api.auth import load_or_create_token
    from mats.config import load_settings
    from mats.launch import DEMO_STRATEGIES, build_engine, seed_demo_bars
    from mats.logging import configure_logging
    from mats.sim import SimServer

    with tempfile.TemporaryDirectory(prefix="mats-memprof-") as tmp:
        settings = load_settings(None, overrides={"data_dir": tmp, "log": {"level": args.log_level}})
        configure_logging(settings.log.format, settings.log.level)
        async with SimServer(host="127.0.0.1", port=0, account="DU0000001", speed=args.speed) as sim:
            ib = msgspec.structs.replace(settings.ib, host="127.0.0.1", port=sim.port, account="DU0000001")
            settings = msgspec.structs.replace(settings, ib=ib, strategies=DEMO_STRATEGIES)
            await seed_demo_bars(settings.resolved_arctic_uri)
            token = load_or_create_token(settings.data_dir)
            engine, api = build_engine(settings, token, web_port=0)
            if args.small_bounds:
                from mats.sim import exchange, tape

                exchange.KEEP_FINISHED_ORDERS = 100
                tape.FINE_KEEP_SECONDS = 600
                tape.KEEP_SECONDS = 3600
            if args.break_trade_cycles:
                break_trade_cycles()
            running = asyncio.create_task(engine.run())
            await asyncio.wait_for(engine.ready.wait(), 90)
            if args.small_bounds:
                shrink_engine_bounds(engine)
            stop = asyncio.Event()
            board = asyncio.create_task(dashboard(api.bound_port, token.reveal(), stop))
            streams = [
                asyncio.create_task(stream_reader(api.bound_port, token.reveal(), stop))
                for _ in range(args.streams)
            ]
            print(
                f"in-process demo: simulator at {args.speed:g}x, profiling {args.minutes:g} min, "
                f"snapshot every {args.every:g} s, {args.frames} frame(s)",
                flush=True,
            )
            if not args.no_trace:
                tracemalloc.start(args.frames)
            began = time.monotonic()
            rows: list[tuple[float, float, float, dict[str, int]]] = []
            snaps: list[tracemalloc.Snapshot] = []
            counts: list[Counter[str]] = []
            end = began + args.minutes * 60
            while True:
                rss_before_collect = rss_mib()
                if args.trim:
                    anon_before, trim_began = rss_mib("RssAnon"), time.perf_counter()
                    ctypes.CDLL("libc.so.6").malloc_trim(0)
                    print(
                        f"  malloc_trim: anon {anon_before:.1f} -> {rss_mib('RssAnon'):.1f} MiB "
                        f"in {(time.perf_counter() - trim_began) * 1000:.1f} ms"
                    )
                if args.garbage_types:
                    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collector finds, to see what it is
                garbage = gc.collect() if not args.no_collect else 0  # cyclic garbage since the last one
                if args.garbage_types:
                    kinds = Counter(type(o).__qualname__ for o in gc.garbage)
                    gc.garbage.clear()
                    gc.set_debug(0)
                    print("  cyclic garbage:", ", ".join(f"{k} {n}" for k, n in kinds.most_common(12)))
                skip = [tracemalloc.Filter(False, f) for f in (tracemalloc.__file__, "<unknown>")]
                snap = (
                    tracemalloc.take_snapshot().filter_traces(skip)
                    if tracemalloc.is_tracing()
                    else tracemalloc.Snapshot((), 1)  # --no-trace: nothing to compare
                )
                traced = tracemalloc.get_traced_memory()[0] / MIB
                sizes = container_sizes(sim, engine)
                rows.append((time.monotonic() - began, rss_mib(), traced, sizes))
                snaps, counts = [*snaps[-1:], snap], [*counts[-1:], type_counts()]
                if len(rows) == 2:
                    first_snap, first_counts = snaps[-1], counts[-1]  # after one interval of warm-up
                    if args.new_objects:
                        known = {id(o) for o in gc.get_objects() if type(o).__qualname__ == args.new_objects}
                t, _, traced, _ = rows[-1]
                print(
                    f"  t={t:6.0f}s {rss_parts()}; {heap_parts()}; gc.collect found {garbage} objects "
                    f"(RSS before it {rss_before_collect:.1f})",
                    flush=True,
                )
                if time.monotonic() + 1 >= end:
                    break
                await asyncio.sleep(max(0.0, min(args.every, end - time.monotonic())))
            stop.set()
            await board
            await asyncio.gather(*streams)
            last_snap, last_counts = snaps[-1], counts[-1]
            if args.new_objects:
                new_objects(args.new_objects, known, args.top)
            engine.request_shutdown("profile done")
            await asyncio.wait_for(running, 60)
            tracemalloc.stop()
    report(args, rows, first_snap, last_snap, first_counts, last_counts)


def report(
    args: argparse.Namespace,
    rows: list[tuple[float, float, float, dict[str, int]]],
    first_snap: tracemalloc.Snapshot,
    last_snap: tracemalloc.Snapshot,
    first_counts: Counter[str],
    last_counts: Counter[str],
) -> None:
    t0, rss0, traced0, _ = rows[1]
    t1, rss1, traced1, _ = rows[-1]
    hours = (t1 - t0) / 3600
    print()
    print(
        f"from t={t0:.0f}s to t={t1:.0f}s at {args.speed:g}x: RSS {rss1 - rss0:+.1f} MiB "
        f"({(rss1 - rss0) / hours:+.0f} MiB/h), traced {traced1 - traced0:+.1f} MiB "
        f"({(traced1 - traced0) / hours:+.0f} MiB/h)"
    )
    print(f"\ntop {args.top} growing allocation sites (KiB, blocks, KiB/h):")
    for name, size, count in grouped_growth(first_snap, last_snap, args.frames, "lineno")[: args.top]:
        line = linecache.getline(str(REPO / "src" / name.rsplit(":", 1)[0]), int(name.rsplit(":", 1)[1]))
        print(f"  {size / 1024:9.1f} {count:+8d} {size / 1024 / hours:9.0f}  {name}  {line.strip()[:70]}")
    print("\ngrowth by file (KiB, blocks):")
    for name, size, count in grouped_growth(first_snap, last_snap, args.frames, "filename")[: args.top]:
        print(f"  {size / 1024:9.1f} {count:+8d}  {name}")
    print("\nobject counts growing (gc-tracked types):")
    grown = sorted(((n, last_counts[n] - first_counts.get(n, 0)) for n in last_counts), key=lambda r: -r[1])
    for name, diff in grown[: args.top]:
        if diff <= 0:
            break
        print(f"  {diff:+8d} {last_counts[name]:9d}  {name}")
    print("\ncontainer lengths per snapshot:")
    names = list(rows[-1][3])
    print("  " + " ".join(f"{t:>7.0f}s" for t, *_ in rows) + "  container")
    for name in names:
        print("  " + " ".join(f"{r[3].get(name, -1):8d}" for r in rows) + f"  {name}")


async def arctic_growth(args: argparse.Namespace) -> None:
    """RSS per flush of the real flusher path, under one compaction policy."""
    from mats.allocator import tune_malloc
    from mats.store.arctic import ArcticStore, default_uri
    from mats.store.flusher import Flusher
    from mats.store.journal import Journal
    from mats.store.schemas import FILLS_SYMBOL

    sys.path.insert(0, str(REPO / "tests" / "store"))
    from fillgen import make_fill

    tune_malloc()  # as the engine runs
    with tempfile.TemporaryDirectory(prefix="mats-arctic-mem-") as tmp:
        async with Journal(Path(tmp) / "journal.sqlite") as journal, ArcticStore(default_uri(tmp)) as store:
            if args.append_compacts:
                original = store.append

                async def append(library: str, symbol: str, data: Any, metadata: Any = None) -> int:
                    def run() -> int:
                        lib = store._lib(library, create=True)
                        return int(lib.append(symbol, data, metadata=metadata, compact_data=True).version)

                    return await store._call(run)

                store.append = append  # type: ignore[method-assign]
                del original
            if args.no_append:

                async def no_append(library: str, symbol: str, data: Any, metadata: Any = None) -> int:
                    return 0  # the journal and the flusher's reads alone: is the growth ArcticDB's?

                store.append = no_append  # type: ignore[method-assign]
                store.read_metadata = lambda *a, **k: asyncio.sleep(0)  # type: ignore[method-assign]
            flusher = Flusher(journal, store, "DU0000001", interval=math.inf)
            await flusher.recover()
            step = max(1, args.arctic // 10)
            began = time.perf_counter()
            first, first_anon = rss_mib(), rss_mib("RssAnon")
            print(f"  flushes {0:6d} {rss_parts()}", flush=True)
            for i in range(1, args.arctic + 1):
                await journal.record_fills([make_fill(2 * i), make_fill(2 * i + 1)])
                await flusher.flush_once()
                if args.compact_every and i % args.compact_every == 0:
                    await store.compact("DU0000001", FILLS_SYMBOL)
                if args.vmap_every and i % args.vmap_every == 0:
                    vs = store._lib("DU0000001", create=False)._nvs.version_store
                    if args.vmap == "flush":
                        vs.flush_version_map()  # ArcticDB's in-memory cache of version chains
                    else:
                        vs._compact_version_map(FILLS_SYMBOL)  # the chain on disk: one node
                if args.trim_every and i % args.trim_every == 0:
                    ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed heap back: is it fragmentation?
                if args.reopen_every and i % args.reopen_every == 0:
                    store._libraries.clear()  # a fresh Library handle: ArcticDB's per-handle caches go
                if i % step == 0:
                    print(f"  flushes {i:6d} {rss_parts()}", flush=True)
            last, last_anon = rss_mib(), rss_mib("RssAnon")
            took = time.perf_counter() - began
    policy = (
        "journal and flusher reads only (no ArcticDB append)"
        if args.no_append
        else f"malloc_trim every {args.trim_every} flushes"
        if args.trim_every
        else f"version map {args.vmap} every {args.vmap_every} flushes"
        if args.vmap_every
        else f"library handle reopened every {args.reopen_every} flushes"
        if args.reopen_every
        else "append(compact_data=True)"
        if args.append_compacts
        else f"compact every {args.compact_every} flushes"
        if args.compact_every
        else "never compacted"
    )
    print(
        f"{policy}: {args.arctic} flushes in {took:.1f} s ({took / args.arctic * 1e3:.2f} ms each), "
        f"RSS {last - first:+.1f} MiB = {(last - first) * 1024 / args.arctic:.2f} KiB per flush, "
        f"anon {last_anon - first_anon:+.1f} MiB = {(last_anon - first_anon) * 1024 / args.arctic:.2f} KiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--speed", type=float, default=20.0, help="simulator clock speed")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between snapshots")
    parser.add_argument("--frames", type=int, default=1, help="traceback depth (>1 charges to our caller)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--break-trade-cycles", action="store_true", help="the proposed connection.py fix")
    parser.add_argument("--garbage-types", action="store_true", help="what the cyclic collector finds")
    parser.add_argument("--new-objects", metavar="TYPE", help="where objects of TYPE since warm-up come from")
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) before each snapshot, timed")
    parser.add_argument("--no-collect", action="store_true", help="no gc.collect() before each snapshot")
    parser.add_argument("--streams", type=int, default=0, help="/api/stream sockets held and read")
    parser.add_argument("--log-level", default="warning", help="the engine's log level (the demo's: info)")
    parser.add_argument("--no-trace", action="store_true", help="RSS and heap split only: no tracemalloc")
    parser.add_argument("--small-bounds", action="store_true", help="bounds that fill in the first minute")
    parser.add_argument("--arctic", type=int, default=0, help="measure N ArcticDB flushes instead")
    parser.add_argument("--compact-every", type=int, default=0, help="with --arctic: compact every K flushes")
    parser.add_argument("--vmap-every", type=int, default=0, help="with --arctic: version map every K")
    parser.add_argument("--vmap", choices=["flush", "compact"], default="flush")
    parser.add_argument("--no-append", action="store_true", help="with --arctic: skip ArcticDB")
    parser.add_argument("--trim-every", type=int, default=0, help="with --arctic: malloc_trim every K")
    parser.add_argument("--reopen-every", type=int, default=0, help="with --arctic: new Library handle")
    parser.add_argument("--append-compacts", action="store_true", help="with --arctic: append(compact_data)")
    args = parser.parse_args()
    asyncio.run(arctic_growth(args) if args.arctic else profile(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
