"""MATS against backtrader on the same bars, the same book, in the same run; and the bare-loop floor.

    .venv/bin/python bench/backtest_vs_backtrader.py [--bars 1000000] [--bt-bars 100000]

The book is the unmodified ``strategies/sma_cross.py:SmaCross`` plus a second, different strategy (a
channel breakout, defined below) trading the same symbol in the same account, so nothing can
special-case SmaCross. backtrader gets the same two strategies written as a backtrader user would.

- MATS replays ``--bars`` synthetic 1-minute bars (the whole ``mats.backtest.run`` call: set-up,
  replay, equity curve, statistics).
- backtrader takes minutes on 1,000,000 bars, so it replays the first ``--bt-bars`` of them (a
  sample); the ratio is bars/s against bars/s, both measured in this run. MATS also replays the same
  sample, and the two trade lists (time, side, qty, price, per strategy) must be identical.
- The floor is a bare Python loop doing the same arithmetic as the two strategies (SMAs, channel
  highs/lows, crossings) with no engine, no orders and no accounting.
- Peak memory is the process's peak RSS after each phase (the bars themselves included), and
  tracemalloc's peak of Python allocations during the MATS run of the sample.
- Times are CPU seconds of this process (``time.process_time``), so other work on a shared machine
  does not bend the ratio; each MATS figure is the best of ``--repeat`` runs.
- The profile is cProfile's top functions of a MATS run on ``--profile-bars`` bars (cProfile slows
  function calls several-fold, so read it for shares, not speed).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import pstats
import resource
import sys
import time
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from strategies.indicators import RollingMean  # noqa: E402

from mats.backtest import run  # noqa: E402
from mats.backtest.data import synth_bars  # noqa: E402
from mats.model import Bar  # noqa: E402
from mats.strategy import BaseStrategy  # noqa: E402

SMA = {"fast": 10, "slow": 50, "qty": 10}
BREAKOUT = {"period": 20, "qty": 5}
TradeList = list[tuple[str, pd.Timestamp, str, float, float]]  # strategy, time, side, qty, price


class Channel:
    """The highest high and lowest low of the last ``period`` bars, O(1) per bar on average: an extreme
    is rescanned only when the bar that held it leaves the window (as RollingMean keeps a running sum)."""

    __slots__ = ("bottom", "highs", "lows", "period", "ready", "top")

    def __init__(self, period: int) -> None:
        self.period = period
        self.highs: deque[float] = deque(maxlen=period)
        self.lows: deque[float] = deque(maxlen=period)
        self.top = -math.inf
        self.bottom = math.inf
        self.ready = False  # the window is full

    def update(self, high: float, low: float) -> None:
        highs, lows = self.highs, self.lows
        if self.ready:
            gone_high, gone_low = highs[0], lows[0]
        else:
            gone_high = gone_low = math.nan
            self.ready = len(highs) == self.period - 1
        highs.append(high)
        lows.append(low)
        if high >= self.top:
            self.top = high
        elif gone_high == self.top:
            self.top = max(highs)
        if low <= self.bottom:
            self.bottom = low
        elif gone_low == self.bottom:
            self.bottom = min(lows)


class Breakout(BaseStrategy):
    """Long when the close breaks above the highest high of the previous ``period`` bars; flat again
    when it breaks below their lowest low. Exact price comparisons, so any engine gets the same trades."""

    params = {"period": 20, "qty": 5}  # noqa: RUF012

    def initialize_strategy(self) -> None:
        self.channel = Channel(self.p.period)

    def run_strategy(self, bar: Bar) -> None:
        channel = self.channel
        if channel.ready:
            close = bar.close
            if close > channel.top:
                if self.position(bar.symbol).qty == 0:
                    self.place_order(bar.symbol, self.p.qty)
            elif close < channel.bottom:
                held = self.position(bar.symbol).qty
                if held > 0:
                    self.place_order(bar.symbol, -held)
        channel.update(bar.high, bar.low)


def book() -> list[dict[str, Any]]:
    return [
        {"strategy_id": "sma", "cls": "strategies.sma_cross:SmaCross", "params": SMA, "target_weight": 0.5},
        {"strategy_id": "breakout", "cls": f"{__name__}:Breakout", "params": BREAKOUT, "target_weight": 0.5},
    ]


def run_mats(bars: pd.DataFrame, strategy: Any = None, repeat: int = 1) -> tuple[float, Any]:
    """Best CPU time of ``repeat`` runs of the whole ``run`` call, and the last result."""
    best, result = math.inf, None
    for _ in range(repeat):
        started = time.process_time()
        result = run(strategy or book(), {"SPY": bars}, commission=0.0)
        best = min(best, time.process_time() - started)
    return best, result


def mats_trades(result: Any) -> TradeList:
    fills = result.fills
    rows = zip(fills["strategy_id"], fills.index, fills["side"], fills["qty"], fills["price"], strict=True)
    return sorted((sid, t, side, float(q), float(p)) for sid, t, side, q, p in rows)


# ---- backtrader --------------------------------------------------------------------------------------------


def run_backtrader(bars: pd.DataFrame, *, breakout: bool = True) -> tuple[float, TradeList, float]:
    import backtrader as bt

    class Owned(bt.Strategy):  # type: ignore[misc]
        """Tracks its own position: backtrader's ``self.position`` is the data's, shared by the book."""

        name = ""

        def start(self) -> None:
            self.held = 0.0
            self.trades: TradeList = []

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                self.held += order.executed.size
                when = pd.Timestamp(bt.num2date(order.executed.dt)).round("s").tz_localize("UTC")
                side = "BUY" if order.isbuy() else "SELL"
                self.trades.append((self.name, when, side, abs(order.executed.size), order.executed.price))

    class BtSmaCross(Owned):
        name = "sma"
        params = (("fast", 10), ("slow", 50), ("qty", 10))

        def __init__(self) -> None:
            fast = bt.ind.SMA(self.data.close, period=self.p.fast)
            slow = bt.ind.SMA(self.data.close, period=self.p.slow)
            self.cross = bt.ind.CrossOver(fast, slow)

        def next(self) -> None:
            if self.held == 0 and self.cross[0] > 0:
                self.buy(size=self.p.qty)
            elif self.held > 0 and self.cross[0] < 0:
                self.sell(size=self.held)

    class BtBreakout(Owned):
        name = "breakout"
        params = (("period", 20), ("qty", 5))

        def __init__(self) -> None:
            self.top = bt.ind.Highest(self.data.high(-1), period=self.p.period)
            self.bottom = bt.ind.Lowest(self.data.low(-1), period=self.p.period)

        def next(self) -> None:
            close = self.data.close[0]
            if close > self.top[0]:
                if self.held == 0:
                    self.buy(size=self.p.qty)
            elif close < self.bottom[0] and self.held > 0:
                self.sell(size=self.held)

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(100_000.0)
    cerebro.broker.setcommission(commission=0.0)
    feed = bt.feeds.PandasData(dataname=bars.tz_localize(None), timeframe=bt.TimeFrame.Minutes)
    cerebro.adddata(feed)
    cerebro.addstrategy(BtSmaCross, **SMA)
    if breakout:
        cerebro.addstrategy(BtBreakout, **BREAKOUT)
    started = time.process_time()
    strategies = cerebro.run()
    seconds = time.process_time() - started
    trades = sorted(t for s in strategies for t in s.trades)
    return seconds, trades, cerebro.broker.getvalue()


# ---- the floor ---------------------------------------------------------------------------------------------


def bare_loop(bars: pd.DataFrame, *, breakout: bool = True) -> tuple[float, int]:
    """The strategies' arithmetic in one plain loop: no engine, no orders, no accounting."""
    highs_in, lows_in, closes = (bars[c].tolist() for c in ("high", "low", "close"))
    started = time.process_time()
    fast, slow, last, signals = RollingMean(SMA["fast"]), RollingMean(SMA["slow"]), 0, 0
    channel = Channel(BREAKOUT["period"])
    for high, low, close in zip(highs_in, lows_in, closes, strict=True):
        f, s = fast.update(close), slow.update(close)
        if f is not None and s is not None:
            sign = (f > s) - (f < s)
            if sign and sign != last:
                signals += last != 0
                last = sign
        if breakout:
            if channel.ready and (close > channel.top or close < channel.bottom):
                signals += 1
            channel.update(high, low)
    return time.process_time() - started, signals


# ---- report ------------------------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def profile_summary(bars: pd.DataFrame, top: int = 15) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(run, book(), {"SPY": bars}, commission=0.0)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    total = next(line for line in lines if "function calls" in line).strip()
    return "\n".join([total, *(line.replace(str(ROOT) + "/", "") for line in lines[start:] if line.strip())])


def line(label: str, bars: int, seconds: float, note: str = "") -> float:
    rate = bars / seconds
    print(f"{label:<46} {rate:>11,.0f} bars/s  ({seconds:.2f} s{note})")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--bt-bars", type=int, default=100_000)
    parser.add_argument("--profile-bars", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--json", action="store_true", help="end with one line of JSON: the figures")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile section")
    args = parser.parse_args()
    bars = synth_bars(args.bars, seed=args.seed)
    sample = bars.iloc[: args.bt_bars]
    n, m = len(bars), len(sample)
    rss_bars = peak_rss_mib()
    print(
        f"book: SmaCross{tuple(SMA.values())} + Breakout{tuple(BREAKOUT.values())}, one symbol, one account"
    )
    print(f"{n:,} synthetic 1-minute bars; CPU seconds; MATS and the floor best of {args.repeat}\n")

    mats_s, result = run_mats(bars, repeat=args.repeat)
    fills = f", {len(result.fills):,} fills, {result.stats['trades']:,} trades"
    mats_rate = line(f"MATS book, {n:,} bars", n, mats_s, fills)
    rss_mats = peak_rss_mib()
    del result
    alone_s, alone = run_mats(bars, "strategies.sma_cross:SmaCross", repeat=args.repeat)
    alone_rate = line(f"MATS SmaCross alone, {n:,} bars", n, alone_s, f", {len(alone.fills):,} fills")
    del alone
    floor_s, signals = min(bare_loop(bars) for _ in range(args.repeat))
    floor_rate = line("bare loop, the book's arithmetic", n, floor_s, f", {signals:,} signals")
    sma_floor_s, _ = min(bare_loop(bars, breakout=False) for _ in range(args.repeat))
    sma_floor_rate = line("bare loop, SmaCross's arithmetic", n, sma_floor_s)

    sample_s, sample_result = run_mats(sample, repeat=args.repeat)
    line(f"MATS book, {m:,}-bar sample", m, sample_s)
    tracemalloc.start()
    run_mats(sample)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    bt_s, bt_trades, bt_value = run_backtrader(sample)
    bt_rate = line(f"backtrader book, {m:,}-bar sample", m, bt_s)
    bt_alone_s, bt_alone_trades, _ = run_backtrader(sample, breakout=False)
    bt_alone_rate = line(f"backtrader SmaCross alone, {m:,}-bar sample", m, bt_alone_s)
    rss_bt = peak_rss_mib()

    ours = mats_trades(sample_result)
    identical = len(ours) == len(bt_trades) and all(
        a[:4] == b[:4] and math.isclose(a[4], b[4], rel_tol=1e-12)
        for a, b in zip(ours, bt_trades, strict=True)
    )
    alone_sample = mats_trades(run_mats(sample, "strategies.sma_cross:SmaCross")[1])
    alone_identical = [t[1:4] for t in alone_sample] == [t[1:4] for t in bt_alone_trades]
    mats_value = sample_result.stats["final_equity"]
    equity_match = math.isclose(mats_value, bt_value, rel_tol=1e-9)
    per_strategy = {s: sum(1 for t in ours if t[0] == s) for s in ("sma", "breakout")}
    print(
        f"\ntrades on the sample, book: MATS {len(ours):,} fills {per_strategy}, "
        f"backtrader {len(bt_trades):,}: "
        f"{'IDENTICAL' if identical else 'DIFFERENT'} (strategy, time, side, qty, price)"
    )
    print(
        f"trades on the sample, SmaCross alone: {len(alone_sample):,} fills, "
        f"{'IDENTICAL' if alone_identical else 'DIFFERENT'}"
    )
    print(
        f"final equity on the sample: MATS {mats_value:,.6f}, backtrader {bt_value:,.6f} "
        f"({'equal to 1e-9' if equity_match else 'MISMATCH'})"
    )
    print(f"\nratio MATS / backtrader, the book (bars/s):     {mats_rate / bt_rate:6.1f}x   (goal >= 50x)")
    print(f"ratio MATS / backtrader, SmaCross alone:       {alone_rate / bt_alone_rate:6.1f}x")
    print(f"MATS book at {mats_rate / floor_rate:.0%} of its bare loop; SmaCross alone at "
          f"{alone_rate / sma_floor_rate:.0%} of its bare loop")  # fmt: skip
    print(
        f"peak RSS: {rss_bars:,.0f} MiB with the {n:,} bars made, "
        f"{rss_mats:,.0f} MiB after MATS replayed them "
        f"(+{rss_mats - rss_bars:,.0f} MiB), {rss_bt:,.0f} MiB after backtrader; tracemalloc peak of one "
        f"MATS run on the {m:,}-bar sample {traced_peak / 2**20:,.1f} MiB"
    )
    if not args.no_profile:
        print(f"\nprofile of MATS (book) on {args.profile_bars:,} bars, cProfile, by own time:")
        gc.collect()  # backtrader leaves cyclic garbage; collect it so the profile shows MATS alone
        print(profile_summary(bars.iloc[: args.profile_bars]))
    if args.json:
        figures = {"bench": "backtest_vs_backtrader", "mats_book_bars_s": round(mats_rate),
                   "backtrader_book_bars_s": round(bt_rate), "mats_sma_bars_s": round(alone_rate),
                   "backtrader_sma_bars_s": round(bt_alone_rate), "bare_loop_book_bars_s": round(floor_rate),
                   "bare_loop_sma_bars_s": round(sma_floor_rate), "equity_match": equity_match,
                   "identical_trades": identical and alone_identical,
                   "peak_rss_mib": round(rss_bt)}  # fmt: skip
        print(json.dumps(figures))
    if not (identical and alone_identical and equity_match):
        diff = next(((a, b) for a, b in zip(ours, bt_trades, strict=False) if a != b), None)
        print(f"first difference (MATS, backtrader): {diff}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
