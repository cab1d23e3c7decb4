"""``run`` / ``arun``: replay bars through strategies that share one backtest account.

Per bar the replay does, in order: fire scheduled jobs that are due (they see the bars before this
one), fill open orders of the bar's symbol at its open/high/low, resume strategies that were waiting
for a fill, reveal the bar (``get_data`` now includes it), mark the account at its close, and hand it
to the strategies trading that symbol. Orders placed then can fill from the next bar on.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import anyio.to_thread
import msgspec
import pandas as pd

from mats.accounting import RatesProvider
from mats.backtest.assemble import assemble
from mats.backtest.bar import ReplayBar
from mats.backtest.data import Progress
from mats.backtest.driver import StrategyDriver
from mats.backtest.equity import book_curves
from mats.backtest.market import Market
from mats.backtest.result import BacktestResult
from mats.backtest.storage import market_data_names, read_frames, read_named_frames, run_sync
from mats.brokers.backtest import BacktestBroker
from mats.brokers.commission import CommissionModel
from mats.instruments import Instrument, LocalInstrumentTable
from mats.model import StrategySpec
from mats.store import ArcticStore
from mats.strategy import BaseStrategy, _snake_case, run_to_completion

CHUNK = 65_536  # bars converted to Python floats at a time: fast iteration, bounded memory

StrategyArg = type[BaseStrategy] | str | Sequence[StrategySpec | Mapping[str, Any]]
DataArg = pd.DataFrame | Mapping[str, pd.DataFrame] | str | Sequence[str]


def load_class(ref: str) -> type[BaseStrategy]:
    """``"strategies.sma_cross:SmaCross"`` → the class."""
    module_name, sep, class_name = ref.partition(":")
    if not sep or not module_name or not class_name:
        raise ValueError(f"strategy reference must look like 'package.module:Class', got {ref!r}")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseStrategy)):
        raise TypeError(f"{ref} is not a BaseStrategy subclass")
    return cls


def _specs(
    strategy: StrategyArg, params: Mapping[str, Any] | None
) -> list[tuple[type[BaseStrategy], StrategySpec]]:
    if isinstance(strategy, type | str):
        cls = load_class(strategy) if isinstance(strategy, str) else strategy
        ref = strategy if isinstance(strategy, str) else f"{cls.__module__}:{cls.__qualname__}"
        spec = StrategySpec(_snake_case(cls.__name__), ref, params=dict(params or {}), target_weight=1.0)
        return [(cls, spec)]
    if params:
        raise ValueError("params= applies to a single strategy; a book's specs carry their own params")
    out = []
    for item in strategy:
        spec = item if isinstance(item, StrategySpec) else msgspec.convert(dict(item), StrategySpec)
        out.append((load_class(spec.cls), spec))
    ids = [s.strategy_id for _, s in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"strategy_ids must be unique in a book, got {ids}")
    return out


def _frames(
    data: DataArg, symbol: str, store: ArcticStore | None, arctic_uri: str | None
) -> dict[str, pd.DataFrame]:
    if isinstance(data, pd.DataFrame):
        return {symbol: data}
    names = market_data_names(data)
    if names is None:
        return dict(cast(Mapping[str, pd.DataFrame], data))
    if store is not None:
        open_store = store
        return run_sync(lambda: read_frames(open_store, names))
    return run_sync(lambda: read_named_frames(names, arctic_uri))


def _replay(
    market: Market,
    broker: BacktestBroker,
    subscribers: list[list[Callable[[Any], Any]]],
    parked: list[StrategyDriver],
    run_job: Callable[[Any], None],
    progress: Progress | None = None,
    chunk_size: int = CHUNK,
) -> None:
    """The hot loop: per bar one ``ReplayBar``, a look at the symbol's open orders, and the strategies.

    Bars are converted to Python floats ``chunk_size`` at a time; ``progress(done, total)`` is called
    between chunks, so reporting costs nothing per bar.
    """
    if len(market.symbols) == 1:
        _replay_one(market, broker, subscribers[0], parked, run_job, progress, chunk_size)
        return
    names = market.symbols
    open_by_k = broker.open_by_k
    match = broker.match
    cols = market.columns
    total = len(market)
    for lo in range(0, total, chunk_size):
        hi = lo + chunk_size
        chunk = (
            market.times_ns[lo:hi],
            market.sym[lo:hi],
            *(cols[c][lo:hi] for c in ("open", "high", "low", "close", "volume")),
        )
        for t, k, o, h, low, c, v in zip(*(a.tolist() for a in chunk), strict=True):
            if t >= market.next_due_ns:
                for job in market.run_due(t):
                    run_job(job)
            bar = ReplayBar(names[k], t, o, h, low, c, v)
            if open_by_k[k]:
                match(k, bar)
            if parked:
                for driver in parked[:]:
                    driver.resume()
            market.visible_ns = t
            for deliver in subscribers[k]:
                deliver(bar)
        if progress is not None:
            progress(min(hi, total), total)


def _replay_one(
    market: Market,
    broker: BacktestBroker,
    delivers: list[Callable[[Any], Any]],
    parked: list[StrategyDriver],
    run_job: Callable[[Any], None],
    progress: Progress | None,
    chunk_size: int,
) -> None:
    """``_replay`` for one symbol: the same steps, without looking anything up by symbol per bar."""
    name = market.symbols[0]
    open_orders = broker.open_by_k[0]  # the broker's own list, changed in place as orders come and go
    match = broker.match
    cols = market.columns
    total = len(market)
    for lo in range(0, total, chunk_size):
        hi = lo + chunk_size
        chunk = (
            market.times_ns[lo:hi],
            *(cols[c][lo:hi] for c in ("open", "high", "low", "close", "volume")),
        )
        for t, o, h, low, c, v in zip(*(a.tolist() for a in chunk), strict=True):
            if t >= market.next_due_ns:
                for job in market.run_due(t):
                    run_job(job)
            bar = ReplayBar(name, t, o, h, low, c, v)
            if open_orders:
                match(0, bar)
            if parked:
                for driver in parked[:]:
                    driver.resume()
            market.visible_ns = t
            for deliver in delivers:
                deliver(bar)
        if progress is not None:
            progress(min(hi, total), total)


def run(
    strategy: StrategyArg,
    data: DataArg,
    *,
    params: Mapping[str, Any] | None = None,
    cash: float = 100_000.0,
    commission: float | CommissionModel | None = None,
    symbol: str = "SYM",
    slippage: float = 0.0,
    base_currency: str = "USD",
    rates: RatesProvider | None = None,
    instruments: Iterable[Instrument] = (),
    arctic_uri: str | None = None,
    store: ArcticStore | None = None,
    progress: Progress | None = None,
    progress_every: int = CHUNK,
) -> BacktestResult:
    """Backtest one strategy (a class or ``"module:Class"``) or a book of strategy specs on ``data``.

    ``commission=None`` is IB-like, ``0.0`` none, a number a rate per share/contract. Symbols in the
    data that the instrument table does not know become US stocks; ``instruments`` adds others (a future
    with its multiplier, a EUR stock with ``rates``). ``data`` may name ``market_data`` symbols
    (``"AAPL_1min"`` or a list of them), read through ``store`` or a store opened on ``arctic_uri``.
    ``progress(bars_done, bars_total)`` is called every ``progress_every`` bars.
    """
    if progress_every < 1:
        raise ValueError(f"progress_every must be >= 1, got {progress_every}")
    market = Market(_frames(data, symbol, store, arctic_uri))
    table = LocalInstrumentTable()
    for inst in instruments:
        table.add(inst)
    for key in market.symbols:
        table.add_stock(key)
    broker = BacktestBroker(
        table,
        market,
        cash=cash,
        base_currency=base_currency,
        commission=commission,
        slippage=slippage,
        rates=rates,
    )
    subscribers: list[list[Callable[[Any], Any]]] = [[] for _ in market.symbols]
    parked: list[StrategyDriver] = []
    drivers: list[StrategyDriver] = []
    specs = _specs(strategy, params)
    for cls, spec in specs:
        symbols = spec.symbols or list(market.symbols)
        strat = cls(
            broker,
            strategy_id=spec.strategy_id,
            symbols=symbols,
            params=spec.params,
            equity=spec.equity,
            target_weight=spec.target_weight,
        )
        driver = StrategyDriver(strat, parked)
        drivers.append(driver)
        for sym in symbols:
            key = table.resolve(sym).key
            if key not in market.symbols:
                raise ValueError(
                    f"strategy {spec.strategy_id} trades {sym!r} but the data has no bars for {key}"
                )
            subscribers[market.symbols.index(key)].append(driver.deliver)
    for driver in drivers:
        run_to_completion(
            driver.strategy.initialize_strategy(), f"{driver.strategy.strategy_id}.initialize_strategy"
        )

    def run_job(job: Any) -> None:
        run_to_completion(job.callback(), f"{job.strategy_id} scheduled {job.callback!r}")

    _replay(market, broker, subscribers, parked, run_job, progress, progress_every)
    for driver in drivers:
        driver.close()
    curves = book_curves(market, broker.changes, broker.initial_cash_base, broker.factors)
    meta = {
        "strategies": [_describe(d.strategy, spec) for d, (_, spec) in zip(drivers, specs, strict=True)],
        "symbols": list(market.symbols),
        "data": market_data_names(data) or "frames",
        "cash": cash,
        "base_currency": base_currency,
        "commission": "ib" if commission is None else commission,
        "slippage": slippage,
    }
    result = assemble(market, broker, table, curves, cash, meta)
    result.strategies.update({d.strategy.strategy_id: d.strategy for d in drivers})
    return result


def _describe(strategy: BaseStrategy, spec: StrategySpec) -> dict[str, Any]:
    return {
        "strategy_id": strategy.strategy_id,
        "cls": spec.cls,
        "symbols": list(strategy.symbols),
        "params": dict(vars(strategy.p)),
        "target_weight": spec.target_weight,
        "equity": spec.equity,
    }


async def arun(
    strategy: StrategyArg,
    data: DataArg,
    *,
    store: ArcticStore | None = None,
    arctic_uri: str | None = None,
    **kwargs: Any,
) -> BacktestResult:
    """``run`` for a running loop (Jupyter, the API): bars are read on this loop, the replay runs in a
    worker thread, so the loop stays responsive while a long backtest runs."""
    names = market_data_names(data)
    if names is not None:
        if store is not None:
            data = await read_frames(store, names)
        else:
            data = await read_named_frames(names, arctic_uri)
    result = await anyio.to_thread.run_sync(functools.partial(run, strategy, data, **kwargs))
    if names is not None:
        result.meta["data"] = names  # what was read, not the frames it became
    return result
