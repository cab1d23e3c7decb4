"""``/api/backtests``: run one in a worker process, list past runs, read one's equity curve and fills."""

from __future__ import annotations

from typing import Any

import msgspec
import pandas as pd
from litestar import get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED

from mats.actors.strategy import InvalidStrategy, load_strategy_class
from mats.api.backtests import BacktestJobs, BacktestRequest, BacktestSummary
from mats.api.context import ApiContext, Ctx
from mats.api.routes.arctic import plain_cell, store_of
from mats.backtest.storage import BACKTESTS, load_result, new_run_id
from mats.validation import field_message


class BacktestDetail(BacktestSummary, frozen=True):
    """A run's summary with its equity curve and fills."""

    equity: list[dict[str, Any]]
    fills: list[dict[str, Any]]


def _detail(
    summary: BacktestSummary, equity: list[dict[str, Any]], fills: list[dict[str, Any]]
) -> BacktestDetail:
    return BacktestDetail(**msgspec.structs.asdict(summary), equity=equity, fills=fills)


def jobs_of(ctx: ApiContext) -> BacktestJobs:
    jobs: BacktestJobs | None = ctx.extras.get("backtests")
    if jobs is None:
        jobs = ctx.extras["backtests"] = BacktestJobs(ctx.settings.resolved_arctic_uri, ctx.engine.bus)
    return jobs


@post("/api/backtests", status_code=HTTP_202_ACCEPTED)
async def start_backtest(ctx: Ctx, data: JSONBody[dict[str, Any]]) -> BacktestSummary:
    try:
        request = msgspec.convert(data, BacktestRequest)
        load_strategy_class(request.cls)  # only classes inside strategies/, refused before any work
    except msgspec.ValidationError as exc:
        raise ValidationException(detail=field_message(exc)) from None
    except InvalidStrategy as exc:
        raise ValidationException(detail=str(exc)) from None
    store_of(ctx)
    return jobs_of(ctx).submit(request, new_run_id())


@get("/api/backtests")
async def list_backtests(ctx: Ctx) -> list[BacktestSummary]:
    """Runs started here (with live progress) and every run stored in ``backtests``, newest first."""
    jobs = jobs_of(ctx)
    runs = dict(jobs.jobs)
    store = store_of(ctx)
    # Runs are written by worker processes: listings cached by this process would not show them yet.
    if BACKTESTS in await store.list_libraries(refresh=True):
        names = [s for s in await store.list_symbols(BACKTESTS, refresh=True) if s.endswith("_equity")]
        stored = await store.read_metadata_batch(BACKTESTS, names) if names else {}
        for name, meta in stored.items():
            run_id = name.removesuffix("_equity")
            if run_id in runs or not isinstance(meta, dict):
                continue
            runs[run_id] = BacktestSummary(
                run_id, "done", 1.0, meta.get("params"), str(meta.get("created_at", "")),
                str(meta.get("created_at", "")), meta.get("stats"), None,
            )  # fmt: skip
    return sorted(runs.values(), key=lambda r: r.created_at, reverse=True)


@get("/api/backtests/{run_id:str}")
async def read_backtest(ctx: Ctx, run_id: FromPath[str]) -> BacktestDetail:
    jobs = jobs_of(ctx)
    summary = jobs.jobs.get(run_id)
    if summary is not None and run_id in jobs.results:  # run here: answered from memory
        kept = jobs.results[run_id]
        return _detail(summary, kept["equity"], kept["fills"])
    store = store_of(ctx)
    stored = BACKTESTS in await store.list_libraries() and await store.has_symbol(
        BACKTESTS, f"{run_id}_equity"
    )
    if summary is None and not stored:
        raise NotFoundException(f"unknown backtest {run_id!r}")
    if not stored:  # still running (or failed): no curve yet
        assert summary is not None
        return _detail(summary, [], [])
    equity, fills, meta = await load_result(store, run_id)
    if summary is None:
        created = str(meta.get("created_at", ""))
        summary = BacktestSummary(
            run_id, "done", 1.0, meta.get("params"), created, created, meta.get("stats"), None
        )
    thinned = _thin(equity)
    points = [{"at": t.isoformat(), "equity": float(v)} for t, v in zip(thinned.index, thinned, strict=True)]
    rows: list[dict[str, Any]] = [
        {"at": pd.Timestamp(t).isoformat(), **{str(k): plain_cell(v) for k, v in row.items()}}
        for t, row in zip(fills.index, fills.to_dict("records"), strict=True)
    ]
    return _detail(summary, points, rows)


def _thin(equity: pd.Series, most: int = 5_000) -> pd.Series:
    """At most ``most`` points for a chart (every n-th, plus the last)."""
    if len(equity) <= most:
        return equity
    step = len(equity) // most + 1
    return pd.concat([equity.iloc[::step], equity.iloc[-1:]])
