"""Backtests: ``run(...)`` from scripts, ``await arun(...)`` from notebooks, ``sweep(...)`` on Dask."""

from mats.backtest.bar import ReplayBar
from mats.backtest.data import BarsInvalid, market_data_symbol, synth_bars
from mats.backtest.result import BacktestResult
from mats.backtest.runner import arun, run
from mats.backtest.storage import load_result, save_result
from mats.backtest.sweep import sweep

__all__ = [
    "BacktestResult",
    "BarsInvalid",
    "ReplayBar",
    "arun",
    "load_result",
    "market_data_symbol",
    "run",
    "save_result",
    "sweep",
    "synth_bars",
]
