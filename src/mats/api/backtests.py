"""Backtests started from the API run in a worker process, report progress on the stream, store results.

A backtest is CPU-heavy: run on the engine's loop it would stall trading, so it runs in a spawned
process (one at a time by default). Progress comes back through a multiprocessing queue read by a
thread and published as ``backtest`` events; results go to ArcticDB ``backtests/{run_id}_*`` as the CLI
stores them, so every past run — from the CLI or the UI — is listed.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec
import structlog

from mats.actors.bus import EventBus
from mats.messages import Event

log = structlog.get_logger("mats.api.backtests")


class BacktestRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What to run: a class inside ``strategies/`` on stored bars (``market_data/{SYMBOL}_{bar_size}``),
    or on seeded synthetic bars where none are stored (the demo has no data of its own)."""

    cls: str
    symbols: list[str]
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    start: str | None = None  # a date or time (UTC unless it says otherwise); empty means no bound
    end: str | None = None
    bar_size: str = "1min"
    cash: float = 100_000.0
    commission: float | None = None
    synthetic_bars: int = 20_000
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            text = getattr(self, name)
            if text:
                try:
                    _as_utc(text)
                except ValueError:
                    raise ValueError(f"{name}: not a date or time: {text!r}") from None
        if not self.symbols:
            raise ValueError("symbols: give at least one instrument")
        if not 0 < self.cash < 1e12:
            raise ValueError(f"cash: must be positive, got {self.cash}")
        if not 100 <= self.synthetic_bars <= 2_000_000:
            raise ValueError(f"synthetic_bars: must be within 100..2,000,000, got {self.synthetic_bars}")


def _as_utc(text: str) -> Any:
    import pandas as pd

    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


class BacktestSummary(msgspec.Struct, frozen=True):
    run_id: str
    status: str  # queued, running, done, failed
    progress: float
    request: dict[str, Any] | None
    created_at: str
    finished_at: str | None
    stats: dict[str, Any] | None
    error: str | None


class BacktestChanged(Event, frozen=True):
    stream_type: ClassVar[str] = "backtest"
    run_id: str
    status: str
    progress: float
    error: str | None = None


_progress_queue: Any = None


def _init_worker(progress: Any) -> None:
    global _progress_queue  # one per worker process: how the replay reports back
    _progress_queue = progress


def run_in_worker(request: dict[str, Any], arctic_uri: str, run_id: str) -> dict[str, Any]:
    """Runs in the worker process: read (or make) bars, replay, store; returns the stats."""
    import pandas as pd

    from mats.actors.strategy import load_strategy_class
    from mats.backtest import run
    from mats.backtest.data import market_data_symbol, synth_bars
    from mats.backtest.storage import jsonable, read_bars, run_sync, save_result
    from mats.store.arctic import ArcticStore

    spec = msgspec.convert(request, BacktestRequest)
    cls = load_strategy_class(spec.cls)

    async def go() -> dict[str, Any]:
        async with ArcticStore(arctic_uri) as store:
            frames: dict[str, pd.DataFrame] = {}
            synthetic = []
            for n, symbol in enumerate(spec.symbols):
                name = market_data_symbol(symbol, spec.bar_size)
                try:
                    start = _as_utc(spec.start) if spec.start else None
                    end = _as_utc(spec.end) if spec.end else None
                    frames[symbol] = await read_bars(store, name, start=start, end=end)
                except Exception:
                    frames[symbol] = synth_bars(spec.synthetic_bars, seed=spec.seed + n, freq=spec.bar_size)
                    synthetic.append(symbol)

            def progress(done: int, total: int) -> None:
                if _progress_queue is not None:
                    _progress_queue.put((run_id, done / max(total, 1)))

            data: Any = frames if len(frames) > 1 else next(iter(frames.values()))
            result = run(
                cls, data, params=spec.params, cash=spec.cash, commission=spec.commission,
                symbol=spec.symbols[0], progress=progress,
            )  # fmt: skip
            result.meta["synthetic_data"] = synthetic
            await save_result(store, result, run_id)
            # Sent back whole: the engine answers for its own runs without reading back what another
            # process just wrote (ArcticDB readers may see a new symbol only after their cache expires).
            equity = result.equity
            if len(equity) > 5_000:
                equity = pd.concat([equity.iloc[:: len(equity) // 5_000 + 1], equity.iloc[-1:]])
            fills = result.fills
            return {
                "stats": jsonable(result.stats),
                "equity": [
                    {"at": t.isoformat(), "equity": float(v)}
                    for t, v in zip(equity.index, equity, strict=True)
                ],
                "fills": [
                    {"at": t.isoformat(), **{str(k): jsonable(v) for k, v in row.items()}}
                    for t, row in zip(fills.index, fills.to_dict("records"), strict=True)
                ],
            }

    return run_sync(go)


class BacktestJobs:
    """The API's backtests: at most ``workers`` at once, each in its own process."""

    def __init__(self, arctic_uri: str, bus: EventBus, *, workers: int = 1) -> None:
        self.arctic_uri = arctic_uri
        self.bus = bus
        context = mp.get_context("spawn")  # never fork a process that holds ArcticDB and sockets
        self._progress: Any = context.Queue()
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(self._progress,)
        )
        self.jobs: dict[str, BacktestSummary] = {}
        self.results: dict[str, dict[str, Any]] = {}  # run_id → equity points and fills of runs done here
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read_progress, name="backtest-progress", daemon=True)

    def submit(self, request: BacktestRequest, run_id: str) -> BacktestSummary:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._reader.start()
        summary = BacktestSummary(
            run_id,
            "queued",
            0.0,
            msgspec.to_builtins(request),
            datetime.now(UTC).isoformat(),
            None,
            None,
            None,
        )
        self._set(summary)
        task = asyncio.create_task(self._run(run_id, request), name=f"backtest-{run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return summary

    async def _run(self, run_id: str, request: BacktestRequest) -> None:
        loop = asyncio.get_running_loop()
        self._update(run_id, status="running")
        try:
            outcome = await loop.run_in_executor(
                self._pool, run_in_worker, msgspec.to_builtins(request), self.arctic_uri, run_id
            )
        except Exception as exc:
            log.error("backtest.failed", run_id=run_id, error=repr(exc))
            self._update(run_id, status="failed", error=f"{type(exc).__name__}: {exc}", finished=True)
            return
        self.results[run_id] = {"equity": outcome["equity"], "fills": outcome["fills"]}
        while len(self.results) > 50:
            self.results.pop(next(iter(self.results)))
        self._update(run_id, status="done", progress=1.0, stats=outcome["stats"], finished=True)

    def _update(
        self,
        run_id: str,
        *,
        status: str | None = None,
        progress: float | None = None,
        stats: dict[str, Any] | None = None,
        error: str | None = None,
        finished: bool = False,
    ) -> None:
        current = self.jobs[run_id]
        if current.status in ("done", "failed") and status is None:
            return  # a late progress report from a run that has ended
        self._set(
            msgspec.structs.replace(
                current,
                status=status or current.status,
                progress=current.progress if progress is None else progress,
                stats=stats if stats is not None else current.stats,
                error=error if error is not None else current.error,
                finished_at=datetime.now(UTC).isoformat() if finished else current.finished_at,
            )
        )

    def _set(self, summary: BacktestSummary) -> None:
        self.jobs[summary.run_id] = summary
        self.bus.publish(BacktestChanged(summary.run_id, summary.status, summary.progress, summary.error))

    def _read_progress(self) -> None:
        """A thread: multiprocessing queues block, so they are read off the loop."""
        while not self._closed.is_set():
            try:
                run_id, fraction = self._progress.get(timeout=0.5)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._progressed, run_id, fraction)

    def _progressed(self, run_id: str, fraction: float) -> None:
        if run_id in self.jobs:
            self._update(run_id, progress=round(min(fraction, 0.99), 4))

    async def close(self) -> None:
        self._closed.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
