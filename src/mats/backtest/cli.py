"""``mats backtest …`` and ``mats data import|synth|list``: the async handlers (arguments: ``cli_args``).

``mats.cli`` adds the arguments to its sub-parsers and awaits the handlers; everything the trader
sees (progress bars, the summary table) is drawn here with rich, on stdout; errors go to stderr as
one line saying what was wrong, with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mats.backtest.cli_args import add_backtest_arguments, add_data_arguments
from mats.backtest.data import BarsInvalid, market_data_symbol, read_csv_bars, synth_bars
from mats.backtest.report import summary_table, sweep_table
from mats.backtest.result import BacktestResult
from mats.backtest.runner import StrategyArg, arun
from mats.backtest.storage import MARKET_DATA, read_frames, save_result, save_sweep, write_bars
from mats.config import Settings
from mats.instruments import LocalInstrumentTable, UnknownInstrument
from mats.model import StrategySpec
from mats.store import ArcticStore

EXIT_FAILED = 1
EXIT_USAGE = 2

__all__ = ["add_backtest_arguments", "add_data_arguments", "run_backtest", "run_data"]


def parse_value(text: str) -> Any:
    """``10`` → 10, ``0.5`` → 0.5, ``true`` → True, ``[1,2]`` → [1, 2], anything else → the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--param must look like NAME=VALUE, got {item!r}")
        params[name.strip()] = parse_value(value.strip())
    return params


# ---- mats backtest ----------------------------------------------------------------------------------------


async def run_backtest(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    console = console or Console()
    try:
        strategy, symbols = _what_to_run(args, settings)
        params = parse_params(args.param)
        if params and not isinstance(strategy, str):
            raise ValueError("--param applies to one strategy; a book's params come from its [[strategies]]")
        kwargs: dict[str, Any] = {"cash": args.cash, "commission": args.commission, "slippage": args.slippage}
        async with ArcticStore(settings.resolved_arctic_uri, settings.storage.namespace) as store:
            data = await _load_data(args, store, symbols)
            if args.sweep:
                return await _sweep(args, settings, store, strategy, data, symbols, params, kwargs, console)
            result = await _run_with_progress(strategy, data, params, kwargs, console)
            if not args.no_save:
                result = _with_run_id(result, await save_result(store, result, args.run_id))
    except (ValueError, TypeError, KeyError, LookupError, ImportError, BarsInvalid) as exc:
        _fail(exc)
        return EXIT_FAILED
    console.print(summary_table(result))
    if result.run_id:
        console.print(
            f"saved as backtests/{result.run_id}_equity and _fills in {_redacted(settings)}",
            style="dim",
            soft_wrap=True,
        )
    if args.png:
        from mats.backtest.plot import save_equity_png

        console.print(f"equity curve written to {save_equity_png(result, args.png)}", soft_wrap=True)
    return 0


def _what_to_run(args: argparse.Namespace, settings: Settings) -> tuple[StrategyArg, list[str]]:
    if args.book or not args.strategy:
        if args.strategy:
            raise ValueError("give a strategy class or --book, not both")
        if not settings.strategies:
            raise ValueError("no strategy given and the settings file declares no [[strategies]] for --book")
        symbols = args.symbol or _book_symbols(settings.strategies)
        return list(settings.strategies), symbols
    if not args.symbol and not args.synth:
        raise ValueError("name the bars: --symbol AAPL (reads market_data/AAPL_1min) or --synth BARS")
    return args.strategy, args.symbol or ["SYM"]


def _book_symbols(specs: Sequence[StrategySpec]) -> list[str]:
    """The bar names a book trades: each spec's instruments as bars name them (``ESZ6``, ``EUR.USD``)."""
    table = LocalInstrumentTable()
    keys: list[str] = []
    for spec in specs:
        if not spec.symbols:
            raise ValueError(f"strategy {spec.strategy_id} names no symbols; a book needs them (or --symbol)")
        for item in spec.symbols:
            try:
                key = table.resolve(item).key
            except UnknownInstrument:
                if not isinstance(item, str):
                    raise
                key = item.strip().upper()
            if key not in keys:
                keys.append(key)
    return keys


async def _load_data(args: argparse.Namespace, store: ArcticStore, symbols: list[str]) -> Any:
    if args.synth:
        return {s: synth_bars(args.synth, seed=args.seed + i) for i, s in enumerate(symbols)}
    names = [market_data_symbol(s, args.bar_size) for s in symbols]
    start = _time(args.start)
    end = _time(args.end)
    return await read_frames(store, names, start=start, end=end)


def _time(text: str | None) -> pd.Timestamp | None:
    if not text:
        return None
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


async def _run_with_progress(
    strategy: StrategyArg, data: Any, params: dict[str, Any], kwargs: dict[str, Any], console: Console
) -> BacktestResult:
    total = sum(len(f) for f in data.values())
    with _progress(console) as progress:
        task = progress.add_task("backtest", total=total)

        def report(done: int, _total: int) -> None:
            progress.update(task, completed=done)

        return await arun(
            strategy,
            data,
            params=params or None,
            progress=report,
            progress_every=max(1_000, min(65_536, total // 100 or 1)),
            **kwargs,
        )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _with_run_id(result: BacktestResult, run_id: str) -> BacktestResult:
    from dataclasses import replace

    return replace(result, run_id=run_id)


async def _sweep(
    args: argparse.Namespace,
    settings: Settings,
    store: ArcticStore,
    strategy: StrategyArg,
    data: Any,
    symbols: list[str],
    params: dict[str, Any],
    kwargs: dict[str, Any],
    console: Console,
) -> int:
    from mats.backtest.sweep import grid_points, parse_grid, sweep

    if not isinstance(strategy, str):
        raise ValueError("--sweep varies one strategy's params; give a strategy class, not --book")
    grid: dict[str, list[Any]] = {k: [v] for k, v in params.items()}
    grid.update(parse_grid(args.sweep, parse_value))
    if not args.synth and args.cluster:  # a real cluster's workers read the shared store themselves
        data = [market_data_symbol(s, args.bar_size) for s in symbols]
        kwargs["arctic_uri"] = settings.resolved_arctic_uri
    points = len(grid_points(grid))
    with _progress(console) as progress:
        task = progress.add_task(f"sweep ({points} runs)", total=points)

        def report(done: int, _total: int) -> None:
            progress.update(task, completed=done)

        call: Callable[[], pd.DataFrame] = lambda: sweep(  # noqa: E731
            strategy,
            data,
            grid,
            address=args.cluster,
            n_workers=args.workers,
            processes=not args.threads,
            progress=report,
            **kwargs,
        )
        table = await anyio.to_thread.run_sync(call)
    console.print(sweep_table(table, list(grid)))
    if args.out:
        table.to_csv(args.out, index=False)
        console.print(f"sweep table written to {Path(args.out)}", soft_wrap=True)
    if not args.no_save:
        sweep_id = await save_sweep(store, table, grid, args.run_id)
        console.print(
            f"saved as backtests/{sweep_id}_sweep in {_redacted(settings)}", style="dim", soft_wrap=True
        )
    return 0


# ---- mats data --------------------------------------------------------------------------------------------


async def run_data(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    console = console or Console()
    try:
        async with ArcticStore(settings.resolved_arctic_uri, settings.storage.namespace) as store:
            match args.data_command:
                case "synth":
                    bars = synth_bars(args.bars, seed=args.seed, start=args.start, freq=args.bar_size)
                    name = market_data_symbol(args.symbol, args.bar_size)
                    await write_bars(store, name, bars, source=f"synth seed={args.seed}")
                    _wrote(console, name, bars, settings)
                case "import":
                    name = market_data_symbol(args.symbol, args.bar_size)
                    bars = await _read_csv_with_progress(args.file, args.tz, console)
                    with console.status(f"writing {len(bars):,} bars to market_data/{name}"):
                        await write_bars(store, name, bars, append=args.append, source=str(args.file))
                    _wrote(console, name, bars, settings)
                case "list":
                    for name in await store.list_symbols(MARKET_DATA, refresh=True):
                        console.print(name)
                case other:
                    raise ValueError(f"unknown data action {other!r}")
    except (BarsInvalid, ValueError, KeyError, OSError) as exc:
        _fail(exc)
        return EXIT_FAILED
    return 0


async def _read_csv_with_progress(file: str, tz: str | None, console: Console) -> pd.DataFrame:
    with _progress(console) as progress:
        task = progress.add_task(f"reading {file}", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return await anyio.to_thread.run_sync(lambda: read_csv_bars(file, tz=tz, progress=report))


def _wrote(console: Console, name: str, bars: pd.DataFrame, settings: Settings) -> None:
    console.print(
        f"market_data/{name}: {len(bars):,} bars from {bars.index[0]} to {bars.index[-1]} "
        f"in {_redacted(settings)}",
        soft_wrap=True,
    )


def _redacted(settings: Settings) -> str:
    from mats.config import redact_uri

    return redact_uri(settings.resolved_arctic_uri)


def _fail(exc: BaseException) -> None:
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    print(f"mats: {message}", file=sys.stderr)
