"""``run`` / ``arun``: replay bars through strategies that share one backtest account.

Per bar the replay does, in order: fire scheduled jobs that are due (they see the bars before this
one), fill open orders of the bar's symbol at its open/high/low, resume strategies that were waiting
for a fill, reveal the bar (``get_data`` now includes it), mark the account at its close, and hand it
to the strategies trading that symbol. Orders placed then can fill from the next bar on.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio.to_thread
import msgspec
import numpy as np
import pandas as pd

from mats.accounting import RatesProvider
from mats.backtest.bar import ReplayBar
from mats.backtest.driver import StrategyDriver
from mats.backtest.equity import equity_curve
from mats.backtest.market import Market
from mats.backtest.metrics import compute_stats
from mats.backtest.result import FILL_COLUMNS, BacktestResult
from mats.brokers.backtest import BacktestBroker
from mats.brokers.commission import CommissionModel
from mats.instruments import Instrument, LocalInstrumentTable
from mats.model import StrategySpec
from mats.strategy import BaseStrategy, _snake_case, run_to_completion

CHUNK = 65_536  # bars converted to Python floats at a time: fast iteration, bounded memory

StrategyArg = type[BaseStrategy] | str | Sequence[StrategySpec | Mapping[str, Any]]
DataArg = pd.DataFrame | Mapping[str, pd.DataFrame] | str


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


def _frames(data: DataArg, symbol: str, arctic_uri: str | None) -> dict[str, pd.DataFrame]:
    if isinstance(data, pd.DataFrame):
        return {symbol: data}
    if isinstance(data, str):
        return {data.rsplit("_", 1)[0]: _read_market_data(data, arctic_uri)}
    return dict(data)


def _read_market_data(name: str, arctic_uri: str | None) -> pd.DataFrame:
    """A ``market_data`` symbol (e.g. ``AAPL_1min``) from ArcticDB."""
    import arcticdb

    uri = arctic_uri or os.environ.get("MATS_ARCTIC_URI") or "lmdb://.mats/arctic"
    library = arcticdb.Arctic(uri).get_library("market_data")
    if not library.has_symbol(name):
        raise KeyError(f"market_data has no symbol {name!r} in {uri}")
    return library.read(name).data


def _replay(
    market: Market,
    broker: BacktestBroker,
    subscribers: list[list[Callable[[Any], Any]]],
    parked: list[StrategyDriver],
    run_job: Callable[[Any], None],
) -> None:
    """The hot loop: per bar one ``ReplayBar``, a look at the symbol's open orders, and the strategies."""
    names = market.symbols
    open_by_k = broker.open_by_k
    match = broker.match
    cols = market.columns
    for lo in range(0, len(market), CHUNK):
        hi = lo + CHUNK
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
) -> BacktestResult:
    """Backtest one strategy (a class or ``"module:Class"``) or a book of strategy specs on ``data``.

    ``commission=None`` is IB-like, ``0.0`` none, a number a rate per share/contract. Symbols in the
    data that the instrument table does not know become US stocks; ``instruments`` adds others (a future
    with its multiplier, a EUR stock with ``rates``).
    """
    market = Market(_frames(data, symbol, arctic_uri))
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
    for cls, spec in _specs(strategy, params):
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

    _replay(market, broker, subscribers, parked, run_job)
    for driver in drivers:
        driver.close()
    equity_values = equity_curve(market, broker.changes, broker.initial_cash_base, broker.factors)
    result = _result(market, broker, equity_values, cash)
    result.strategies.update({d.strategy.strategy_id: d.strategy for d in drivers})
    return result


async def arun(strategy: StrategyArg, data: DataArg, **kwargs: Any) -> BacktestResult:
    """``run`` in a worker thread, so it can be awaited inside a running loop (Jupyter)."""
    return await anyio.to_thread.run_sync(functools.partial(run, strategy, data, **kwargs))


def _result(market: Market, broker: BacktestBroker, equity_values: np.ndarray, cash: float) -> BacktestResult:
    index = pd.DatetimeIndex(market.times_ns.view("datetime64[ns]")).tz_localize("UTC")
    equity = pd.Series(equity_values, index=index, name="equity")
    if not index.is_unique:
        equity = equity[~index.duplicated(keep="last")]  # several symbols share a timestamp: keep the last
    final = broker.final_equity() if len(market) else cash
    if len(equity):
        equity.iloc[-1] = final
    fills = pd.DataFrame(
        [(f.symbol, f.side.value, f.qty, f.price, f.commission or 0.0, f.strategy_id) for f in broker.fills],
        columns=FILL_COLUMNS,
        index=pd.DatetimeIndex([f.exec_time for f in broker.fills], name="time").as_unit("ns"),
    )
    positions = pd.DataFrame(
        [
            (p.strategy_id, p.symbol, p.con_id, p.qty, p.avg_cost, p.realized_pnl)
            for p in broker.ledger.positions()
        ],
        columns=["strategy_id", "symbol", "con_id", "qty", "avg_cost", "realized_pnl"],
    )
    stats = compute_stats(
        equity, fills, cash=cash, final_equity=final, trades=broker.closed_trades, bars=len(market)
    )
    return BacktestResult(fills=fills, equity=equity, stats=stats, positions=positions)
