"""Seeded random-walk bars shared by the backtest tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def random_walk_bars(
    n: int, *, seed: int = 7, start: str = "2024-01-02 14:30", freq: str = "min", price: float = 100.0
) -> pd.DataFrame:
    """OHLCV bars whose open is near the previous close and whose high/low contain open and close."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.r_[price, close[:-1]] * np.exp(rng.normal(0.0, 0.0005, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.001, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.001, n)))
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1_000.0}, index=index
    )
