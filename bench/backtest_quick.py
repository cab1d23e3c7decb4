"""Quick backtest speed check: SmaCross on seeded random-walk minute bars, alone and in a two-strategy book.

    .venv/bin/python bench/backtest_quick.py [--bars 200000] [--profile]

Prints bars/s (the whole ``mats.backtest.run`` call, set-up and results included, best of --repeat,
in CPU time) next to a bare loop doing the same SMA arithmetic, and, with
``--profile``, where the time goes. The comparison with backtrader is bench/backtest_vs_backtrader.py.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import pstats
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mats.backtest import run


def random_walk_bars(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0.0, 0.0005, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.001, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.001, n)))
    index = pd.date_range("2024-01-02", periods=n, freq="min", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1_000.0}, index=index
    )


def book() -> list[dict[str, object]]:
    """SmaCross twice with different params on the same bars: nothing can special-case one strategy."""
    return [
        {"strategy_id": "sma_10_50", "cls": "strategies.sma_cross:SmaCross", "target_weight": 0.5,
         "params": {"fast": 10, "slow": 50, "qty": 10}},
        {"strategy_id": "sma_20_100", "cls": "strategies.sma_cross:SmaCross", "target_weight": 0.5,
         "params": {"fast": 20, "slow": 100, "qty": 5}},
    ]  # fmt: skip


def measure(label: str, strategy: object, bars: pd.DataFrame, repeat: int) -> float:
    """Best of ``repeat`` runs, in CPU seconds of this process (the machine is shared)."""
    best = math.inf
    for _ in range(repeat):
        started = time.process_time()
        result = run(strategy, bars, commission=0.0)  # type: ignore[arg-type]
        best = min(best, time.process_time() - started)
    print(f"{label:<28} {len(bars) / best:>10,.0f} bars/s  ({best:.2f} s, {len(result.fills)} fills)")
    return len(bars) / best


def bare_loop(bars: pd.DataFrame, repeat: int) -> float:
    """The floor: the same SMA arithmetic and cross test in a plain loop, no engine, no orders."""
    from strategies.indicators import RollingMean

    closes = bars["close"].tolist()
    best = math.inf
    for _ in range(repeat):
        started = time.process_time()
        fast, slow, last, crosses = RollingMean(10), RollingMean(50), 0, 0
        for close in closes:
            f, s = fast.update(close), slow.update(close)
            if f is None or s is None:
                continue
            sign = (f > s) - (f < s)
            if sign and sign != last:
                crosses += last != 0
                last = sign
        best = min(best, time.process_time() - started)
    print(f"{'bare loop (floor)':<28} {len(bars) / best:>10,.0f} bars/s  ({best:.2f} s, {crosses} crosses)")
    return len(bars) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true", help="end with one line of JSON: the figures")
    args = parser.parse_args()
    bars = random_walk_bars(args.bars)
    floor = bare_loop(bars, args.repeat)
    alone = measure("SmaCross(10, 50)", "strategies.sma_cross:SmaCross", bars, args.repeat)
    booked = measure("book: 2 x SmaCross", book(), bars, args.repeat)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mib:,.0f} MiB")
    if args.json:
        figures = {"bench": "backtest_quick", "bare_loop_bars_s": round(floor),
                   "sma_cross_bars_s": round(alone), "book_bars_s": round(booked),
                   "peak_rss_mib": round(peak_mib)}  # fmt: skip
        print(json.dumps(figures))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, "strategies.sma_cross:SmaCross", bars, commission=0.0)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
