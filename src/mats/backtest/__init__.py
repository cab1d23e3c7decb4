"""Backtests: ``run(...)`` from scripts, ``await arun(...)`` from notebooks."""

from mats.backtest.bar import ReplayBar
from mats.backtest.result import BacktestResult
from mats.backtest.runner import arun, run

__all__ = ["BacktestResult", "ReplayBar", "arun", "run"]
