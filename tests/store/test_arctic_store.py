"""ArcticStore against LMDB in a temp dir and S3 on a moto server subprocess."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pandas as pd
import pytest

from mats.store import ArcticStore, BatchError, compact_all
from mats.store.arctic import ACCOUNT_OPTIONS, LIBRARY_OPTIONS


def bars(start: str, n: int, price: float = 100.0) -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq="1min", tz="UTC")
    close = price + np.arange(n, dtype=np.float64)
    return pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": np.full(n, 100.0)},
        index=index,
    )


async def test_write_append_update_and_read_by_range_columns_and_tail(any_uri: str) -> None:
    async with ArcticStore(any_uri, namespace="eng1") as store:
        await store.write(
            "market_data", "AAPL_1min", bars("2026-11-23 14:30", 60), metadata={"source": "test"}
        )
        await store.append("market_data", "AAPL_1min", bars("2026-11-23 15:30", 30, price=200.0))
        got = await store.read("market_data", "AAPL_1min")
        assert len(got) == 90
        assert got.index.tz is not None and got.index.is_monotonic_increasing
        assert got["close"].iloc[60] == 200.0

        window = await store.read(
            "market_data",
            "AAPL_1min",
            date_range=(
                pd.Timestamp("2026-11-23 14:40", tz="UTC"),
                pd.Timestamp("2026-11-23 14:49", tz="UTC"),
            ),
            columns=["close"],
        )
        assert list(window.columns) == ["close"]
        assert window["close"].tolist() == [110.0 + i for i in range(10)]

        tail = await store.tail("market_data", "AAPL_1min", 3)
        assert tail["close"].tolist() == [227.0, 228.0, 229.0]

        fix = bars("2026-11-23 14:35", 2, price=555.0)
        await store.update("market_data", "AAPL_1min", fix)
        fixed = await store.read("market_data", "AAPL_1min", columns=["close"])
        assert fixed["close"].iloc[5:7].tolist() == [555.0, 556.0]
        assert len(fixed) == 90

        await store.write_metadata("market_data", "AAPL_1min", {"source": "ib", "bars": 90})
        assert await store.read_metadata("market_data", "AAPL_1min") == {"source": "ib", "bars": 90}
        assert await store.read_metadata("market_data", "MSFT_1min") is None
        assert await store.read_metadata("DU404", "fills") is None

        assert await store.list_symbols("market_data") == ["AAPL_1min"]
        await store.delete("market_data", "AAPL_1min")
        assert await store.list_symbols("market_data") == []


async def test_namespaces_keep_two_engines_apart_and_share_market_data(any_uri: str) -> None:
    async with ArcticStore(any_uri, namespace="eng1") as one, ArcticStore(any_uri, namespace="eng2") as two:
        await one.write("DU0000001", "orders", bars("2026-11-23", 3))
        await two.write("DU0000002", "orders", bars("2026-11-23", 5))
        await one.write("general", "strategies", bars("2026-11-23", 1))
        await two.write("market_data", "AAPL_1min", bars("2026-11-23", 7))

        assert one.library_name("DU0000001") == "eng1.DU0000001"
        assert one.library_name("market_data") == "market_data"
        assert await one.list_libraries(refresh=True) == ["DU0000001", "general", "market_data"]
        assert await two.list_libraries(refresh=True) == ["DU0000002", "market_data"]
        assert len(await one.read("market_data", "AAPL_1min")) == 7  # written by eng2, read by eng1
        assert await one.list_symbols("DU0000002") == []  # eng1 never sees eng2's account


async def test_batch_calls_name_the_symbol_that_failed(any_uri: str) -> None:
    async with ArcticStore(any_uri) as store:
        await store.write("DU0000001", "strategy_a", bars("2026-11-23", 3))
        got = await store.read_batch("DU0000001", ["strategy_a"])
        assert len(got["strategy_a"]) == 3
        with pytest.raises(BatchError, match="strategy_missing") as err:
            await store.read_batch("DU0000001", ["strategy_a", "strategy_missing"])
        assert list(err.value.failures) == ["strategy_missing"]

        versions = await store.append_batch(
            "DU0000001",
            {
                "strategy_a": (bars("2026-11-24", 2), {"n": 5}),
                "strategy_b": (bars("2026-11-24", 4), {"n": 4}),
            },
        )
        assert set(versions) == {"strategy_a", "strategy_b"}
        metas = await store.read_metadata_batch("DU0000001", ["strategy_a", "strategy_b"])
        assert metas == {"strategy_a": {"n": 5}, "strategy_b": {"n": 4}}
        with pytest.raises(
            BatchError, match="strategy_a"
        ):  # an append before the last index fails per symbol
            await store.append_batch("DU0000001", {"strategy_a": (bars("2026-01-01", 1), None)})


async def test_listings_are_cached_and_invalidated_by_this_engines_writes(lmdb_uri: str) -> None:
    async with ArcticStore(lmdb_uri, listing_ttl=3600) as store:
        assert await store.list_symbols("DU0000001") == []
        await store.write("DU0000001", "portfolio", bars("2026-11-23", 2))
        assert await store.list_symbols("DU0000001") == ["portfolio"]  # our write invalidated the cache
        started = time.perf_counter()
        for _ in range(100):
            await store.list_symbols("DU0000001")
        assert (time.perf_counter() - started) / 100 < 0.001  # served from the cache, no storage I/O
        assert await store.list_libraries() == ["DU0000001"]


async def test_one_lmdb_path_is_opened_once_per_process(lmdb_uri: str) -> None:
    async with ArcticStore(lmdb_uri, namespace="a") as one, ArcticStore(lmdb_uri + "/", namespace="b") as two:
        assert one._arctic is two._arctic
        await one.write("market_data", "X_1min", bars("2026-11-23", 2))
        assert len(await two.read("market_data", "X_1min")) == 2


async def test_compaction_merges_appends_and_keeps_the_flushers_metadata(any_uri: str) -> None:
    async with ArcticStore(any_uri) as store:
        for i in range(12):
            await store.append(
                "DU0000001", "fills", bars(f"2026-11-23 {10 + i}:00", 1), metadata={"last_seq": i}
            )
        assert await compact_all(store, [("DU0000001", "fills"), ("DU0000001", "absent")]) == 1
        assert len(await store.read("DU0000001", "fills")) == 12
        assert await store.read_metadata("DU0000001", "fills") == {"last_seq": 11}


def test_libraries_get_deliberate_options() -> None:
    assert ACCOUNT_OPTIONS.dynamic_schema and ACCOUNT_OPTIONS.prune_previous_versions
    assert not LIBRARY_OPTIONS["market_data"].dynamic_schema
    assert not LIBRARY_OPTIONS["backtests"].prune_previous_versions


class LagProbe:
    """Ticks every millisecond and records how late each tick was."""

    def __init__(self) -> None:
        self.ticks: list[tuple[float, float]] = []  # (when, lag)

    async def run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.ticks.append((now, now - before - 0.001))


async def measure_write(store: ArcticStore, symbol: str, frame: pd.DataFrame) -> tuple[float, str]:
    """Write ``frame`` while a probe ticks every ms; returns the worst lag and a description of the run."""
    probe = LagProbe()
    task = asyncio.create_task(probe.run())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await store.write("market_data", symbol, frame)
    finished = time.perf_counter()
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # the measurement provably overlaps the write: ticks before it started, during it and after it finished
    assert any(t < started for t, _ in probe.ticks) and any(t > finished for t, _ in probe.ticks)
    during = [lag for t, lag in probe.ticks if started <= t <= finished + 0.02]
    assert len(during) >= 5, (
        f"the write took {finished - started:.3f}s but the loop ticked {len(during)} times"
    )
    worst_t, worst = max(probe.ticks, key=lambda tick: tick[1])
    return worst, (
        f"max loop lag {worst * 1e3:.1f} ms at {worst_t - started:+.3f}s from the write's start "
        f"(write took {finished - started:.3f}s, {len(during)} ticks during it)"
    )


async def test_a_million_row_write_never_stalls_the_loop(any_uri: str) -> None:
    """Up to five measurements: the 2-core box is shared, and under load the scheduler alone delays a waking
    loop by 20-30 ms (measured: the same write in a *subprocess* shows such lags too). A call that held the
    loop or the GIL would fail every attempt."""
    n = 1_000_000
    frame = pd.DataFrame(
        {f"c{i}": np.random.default_rng(i).random(n) for i in range(5)},
        index=pd.date_range("2020-01-01", periods=n, freq="s", tz="UTC"),
    )
    async with ArcticStore(any_uri) as store:
        await store.write("market_data", "warmup", frame.iloc[:10])  # library creation is not the point here
        reports = []
        for attempt in range(5):
            worst, report = await measure_write(store, f"BIG_{attempt}", frame)
            reports.append(report)
            if worst < 0.020:
                break
        assert worst < 0.020, "; ".join(reports)
        assert len(await store.read("market_data", f"BIG_{attempt}", columns=["c0"])) == n
