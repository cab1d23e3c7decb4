"""A replay's end state (broker, market, equity steps) turned into the BacktestResult a trader reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mats.backtest.market import Market
from mats.backtest.metrics import compute_stats
from mats.backtest.result import FILL_COLUMNS, BacktestResult
from mats.backtest.trades import round_trips
from mats.brokers.backtest import BacktestBroker
from mats.instruments import LocalInstrumentTable
from mats.model import Fill, Side


def fills_frame(fills: Sequence[Fill]) -> pd.DataFrame:
    """The broker's fills as the pinned DataFrame, built column by column (a run can fill millions)."""
    buy = Side.BUY
    columns = {
        "symbol": [f.symbol for f in fills],
        "side": ["BUY" if f.side is buy else "SELL" for f in fills],
        "qty": np.fromiter((f.qty for f in fills), dtype=np.float64, count=len(fills)),
        "price": np.fromiter((f.price for f in fills), dtype=np.float64, count=len(fills)),
        "commission": np.fromiter((f.commission or 0.0 for f in fills), dtype=np.float64, count=len(fills)),
        "strategy_id": [f.strategy_id for f in fills],
    }
    index = pd.DatetimeIndex([f.exec_time for f in fills], name="time").as_unit("ns")
    return pd.DataFrame(columns, index=index)[FILL_COLUMNS]


def assemble(
    market: Market,
    broker: BacktestBroker,
    table: LocalInstrumentTable,
    curves: tuple[np.ndarray, np.ndarray],
    cash: float,
    meta: dict[str, Any],
) -> BacktestResult:
    equity_values, held = curves
    index = pd.DatetimeIndex(market.times_ns.view("datetime64[ns]")).tz_localize("UTC")
    equity = pd.Series(equity_values, index=index, name="equity")
    if len(index) > 1 and not (np.diff(market.times_ns) > 0).all():  # symbols share a time: keep the last
        keep = ~index.duplicated(keep="last")
        equity, held = equity[keep], held[keep]
    final = broker.final_equity() if len(market) else cash
    if len(equity):
        equity.iloc[-1] = final
    fills = fills_frame(broker.fills)
    positions = pd.DataFrame(
        [
            (p.strategy_id, p.symbol, p.con_id, p.qty, p.avg_cost, p.realized_pnl)
            for p in broker.ledger.positions()
        ],
        columns=["strategy_id", "symbol", "con_id", "qty", "avg_cost", "realized_pnl"],
    )
    factors = {}  # symbol → (multiplier, FX rate to the base currency)
    for k, key in enumerate(market.symbols):
        multiplier = table.resolve(key).multiplier
        factors[key] = (multiplier, broker.factors[k] / multiplier)
    trades = round_trips(fills, factors)
    value_factor = fills["symbol"].map({s: m * r for s, (m, r) in factors.items()}).astype(float)
    rate = fills["symbol"].map({s: r for s, (_, r) in factors.items()}).astype(float)
    stats = compute_stats(
        equity,
        fills,
        cash=cash,
        final_equity=final,
        trades=broker.closed_trades,
        bars=len(market),
        trade_pnls=trades["pnl"].to_numpy(dtype=float),
        exposure=float(held.mean()) if len(held) else 0.0,
        traded_value=float((fills["qty"] * fills["price"] * value_factor).sum()),
        commissions=float((fills["commission"] * rate).sum()),
    )
    return BacktestResult(
        fills=fills, equity=equity, stats=stats, positions=positions, trades=trades, meta=meta
    )
