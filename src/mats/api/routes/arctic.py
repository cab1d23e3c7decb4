"""``/api/arctic``: the store's libraries, their symbols, and a preview of a symbol's rows (read-only)."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pandas as pd
from litestar import get
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery

from mats.api.context import ApiContext, Ctx
from mats.store.arctic import ArcticStore

MAX_ROWS = 5_000


class SymbolPreview(msgspec.Struct, frozen=True):
    library: str
    symbol: str
    index_name: str
    columns: list[str]
    rows: list[dict[str, Any]]
    total_rows: int | None
    metadata: Any


def store_of(ctx: ApiContext) -> ArcticStore:
    store = ctx.engine.store
    if store is None:
        raise HTTPException(status_code=409, detail="this engine has no ArcticDB store configured")
    return store


@get("/api/arctic/libraries")
async def list_libraries(ctx: Ctx) -> list[str]:
    return sorted(await store_of(ctx).list_libraries())


@get("/api/arctic/libraries/{library:str}/symbols")
async def list_symbols(ctx: Ctx, library: FromPath[str]) -> list[str]:
    store = store_of(ctx)
    if library not in await store.list_libraries():
        raise NotFoundException(f"unknown library {library!r}")
    return sorted(await store.list_symbols(library))


@get("/api/arctic/libraries/{library:str}/symbols/{symbol:str}")
async def read_symbol(
    ctx: Ctx, library: FromPath[str], symbol: FromPath[str], tail: FromQuery[int] = 200
) -> SymbolPreview:
    store = store_of(ctx)
    if library not in await store.list_libraries() or not await store.has_symbol(library, symbol):
        raise NotFoundException(f"unknown symbol {library}/{symbol}")
    n = max(1, min(tail, MAX_ROWS))
    frame = await store.tail(library, symbol, n)
    metadata = await store.read_metadata(library, symbol)
    index_name = str(frame.index.name or "index")
    rows = [
        _row(index_name, idx, values)
        for idx, values in zip(frame.index, frame.to_dict("records"), strict=True)
    ]
    return SymbolPreview(
        library=library,
        symbol=symbol,
        index_name=index_name,
        columns=[str(c) for c in frame.columns],
        rows=rows,
        total_rows=len(frame) if len(frame) < n else None,  # more rows exist than the preview shows
        metadata=msgspec.to_builtins(metadata, builtin_types=(pd.Timestamp,))
        if metadata is not None
        else None,
    )


def _row(index_name: str, index: Any, values: dict[Any, Any]) -> dict[str, Any]:
    row = {index_name: plain_cell(index)}
    row.update({str(k): plain_cell(v) for k, v in values.items()})
    return row


def plain_cell(value: Any) -> Any:
    """JSON-friendly cells: timestamps as ISO text, NaN as null, numpy scalars as Python numbers."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
