"""``GET /api/metrics``: what an operator watches over hours (issue 12's soak): the process's memory, the
loop's lag, every actor's mailbox depths and counters, the stream's subscribers, and how full each bound on
what the engine keeps in memory is (``kept``: until they are full the heap grows by design). Read from memory.

Behind the token, unlike ``/api/health``: it names the strategies.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import msgspec
from litestar import get

from mats.actors.base import Actor
from mats.api.context import ApiContext, Ctx
from mats.kept import Kept
from mats.looplag import LagStats

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = Path("/proc/self/statm")


class ActorOut(msgspec.Struct, frozen=True):
    name: str
    state: str
    handled: int
    failures: int
    restarts: int
    slowest_handler_ms: float
    control_depth: int
    data_depth: int
    coalesced_ticks: int


class Metrics(msgspec.Struct, frozen=True):
    uptime_s: float
    rss_bytes: int | None  # None where /proc is missing (not Linux)
    loop_lag: LagStats
    gc_counts: list[int]
    gc_paced: list[int]  # collections the GcPacer made between callbacks, per generation
    gc_paced_longest_ms: float
    event_seq: int
    stream_clients: int
    read_builds: int  # hot read bodies encoded (mats.api.encoded)
    read_hits: int  # hot reads answered with an already encoded body
    actors: list[ActorOut]
    kept: list[Kept]


def rss_bytes() -> int | None:
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def _actors(ctx: ApiContext) -> list[ActorOut]:
    trading = ctx.engine.trading
    if trading is None:
        return []
    named: list[tuple[str, Actor | None]] = [
        ("portfolio", trading.portfolio),
        ("trades", trading.trades),
        ("recorder", trading.recorder),
    ]
    named += [(f"strategy:{sid}", actor) for sid, actor in sorted(trading.actors.items())]
    out = []
    for name, actor in named:
        if actor is None:
            continue
        m = actor.metrics
        out.append(
            ActorOut(name, str(actor.state), m.handled, m.failures, m.restarts,
                     round(m.slowest_handler_ms, 3), m.control_depth, m.data_depth, m.coalesced_ticks)
        )  # fmt: skip
    return out


def _kept(ctx: ApiContext) -> list[Kept]:
    kept = ctx.engine.bus.kept()
    trading = ctx.engine.trading
    if trading is not None:
        for owner in (trading.trades, trading.portfolio, trading.journal):
            if owner is not None:
                kept += owner.kept()
    return kept


@get("/api/metrics", sync_to_thread=False)
def read_metrics(ctx: Ctx) -> Metrics:
    bus = ctx.engine.bus
    return Metrics(
        uptime_s=round(time.monotonic() - ctx.started_at, 3),
        rss_bytes=rss_bytes(),
        loop_lag=ctx.engine.lag.stats(),
        gc_counts=list(gc.get_count()),
        gc_paced=list(ctx.engine.gc_pacer.collections),
        gc_paced_longest_ms=round(ctx.engine.gc_pacer.longest * 1e3, 3),
        event_seq=bus.last_seq,
        stream_clients=bus.subscriber_count,
        read_builds=ctx.reads.builds,
        read_hits=ctx.reads.hits,
        actors=_actors(ctx),
        kept=_kept(ctx),
    )
