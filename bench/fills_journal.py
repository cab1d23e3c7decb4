"""100,000 fills through journal + flusher vs one ArcticDB append per fill (the seed's way), same run, LMDB.

Goals (issue 3): >= 10,000 fills/s acknowledged durably, >= 50x the naive rate, folded fills read in < 10 ms
after 100,000 fills. Run: ``.venv/bin/python bench/fills_journal.py [--fills N] [--durability
NORMAL|FULL]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from arcticdb import LibraryOptions

from mats.model import CommissionReport, ConId, ExecId, Fill, Side, StrategyId
from mats.store import ArcticStore, Durability, FillsReader, Flusher, Journal
from mats.store.schemas import FILLS

ACCOUNT = "DU0000001"
T0 = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def fill(n: int) -> Fill:
    return Fill(
        exec_id=ExecId(f"0000e0d5.{n:08d}.01"),
        order_ref=f"mats:strat_{n % 50}:01JCORDER{n:08d}",
        strategy_id=StrategyId(f"strat_{n % 50}"),
        con_id=ConId(265598 + n % 20),
        symbol=f"SYM{n % 20}",
        side=Side.BUY if n % 2 else Side.SELL,
        qty=float(1 + n % 100),
        price=100.0 + (n % 1000) / 100,
        exec_time=T0 + timedelta(milliseconds=n),
        perm_id=900_000 + n,
    )


async def journal_run(data: Path, n: int, durability: Durability, in_flight: int) -> dict[str, float]:
    fills = [fill(i) for i in range(1, n + 1)]
    async with (
        Journal(data / "journal.sqlite", durability=durability) as journal,
        ArcticStore(f"lmdb://{data}/arctic") as store,
    ):
        flusher = Flusher(journal, store, ACCOUNT, max_rows=20_000, interval=0.05)
        await flusher.recover()
        task = asyncio.create_task(flusher.run())
        started = time.perf_counter()
        # concurrent awaits, `in_flight` at a time: each returns after COMMIT; the journal groups them
        for k in range(0, n, in_flight):
            results = await asyncio.gather(*(journal.record_fill(f) for f in fills[k : k + in_flight]))
            assert all(r is not None for r in results)
        acked = time.perf_counter()
        await flusher.wait_flushed(timeout=300)
        flushed = time.perf_counter()

        reader = FillsReader(store, ACCOUNT)
        t = time.perf_counter()
        cold = await reader.folded()
        cold_ms = (time.perf_counter() - t) * 1e3
        warm_ms = min([await _timed_ms(reader.folded) for _ in range(5)])
        assert len(cold) == n

        # a few commissions and new fills arrive: the next read folds only the delta
        await journal.record_fills([fill(i) for i in range(n + 1, n + 101)])
        for i in range(1, 101):
            await journal.record_commission(CommissionReport(exec_id=ExecId(fill(i).exec_id), commission=1.0))
        await flusher.wait_flushed(timeout=60)
        delta_ms = await _timed_ms(reader.folded)
        final = await reader.folded()
        assert len(final) == n + 100 and final["commission"].iloc[:100].tolist() == [1.0] * 100
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return {
        "ack_s": acked - started,
        "flush_s": flushed - started,
        "cold_ms": cold_ms,
        "warm_ms": warm_ms,
        "delta_ms": delta_ms,
    }


async def batch_run(data: Path, n: int, durability: Durability, batch: int) -> float:
    """Journal only: bursts of ``batch`` fills per ``record_fills`` call (e.g. a reqExecutions catch-up)."""
    fills = [fill(i) for i in range(1, n + 1)]
    async with Journal(data / "journal-batch.sqlite", durability=durability) as journal:
        started = time.perf_counter()
        for k in range(0, n, batch):
            await journal.record_fills(fills[k : k + batch])
        return time.perf_counter() - started


async def _timed_ms(fn: object) -> float:
    t = time.perf_counter()
    await fn()  # type: ignore[operator]
    return (time.perf_counter() - t) * 1e3


async def naive_run(data: Path, n: int) -> float:
    """The seed's way: one ArcticDB append per fill (generously, all in one thread hop)."""
    rows = []
    for i in range(1, n + 1):
        f = fill(i)
        ns = int((T0 + timedelta(milliseconds=i)).timestamp() * 1e9)
        rows.append(
            FILLS.frame(
                [ns],
                [
                    (
                        i,
                        f.exec_id,
                        f.base_exec_id,
                        1,
                        "fill",
                        ns,
                        f.perm_id,
                        f.order_ref,
                        f.strategy_id,
                        f.con_id,
                        f.symbol,
                        f.side.value,
                        f.qty,
                        f.price,
                        None,
                        f.currency,
                        1.0,
                        None,
                    )
                ],
            )
        )
    async with ArcticStore(f"lmdb://{data}/arctic-naive") as store:
        await store._call(
            lambda: store._arctic and store._arctic.get_library("naive", create_if_missing=True)
        )

        def append_each() -> float:
            assert store._arctic is not None  # ArcticDB's default options: no pruning, static schema
            lib = store._arctic.get_library("naive", create_if_missing=True, library_options=LibraryOptions())
            t = time.perf_counter()
            for df in rows:
                lib.append("fills", df, metadata={"last_seq": int(df["seq"].iloc[0])})
            return time.perf_counter() - t

        return await store._call(append_each)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--naive-fills", type=int, default=2_000)
    parser.add_argument("--in-flight", type=int, default=1_000)
    parser.add_argument("--durability", default="NORMAL", choices=["NORMAL", "FULL"])
    parser.add_argument("--json", action="store_true", help="end with one line of JSON: the figures")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        j = await journal_run(data, args.fills, Durability(args.durability), args.in_flight)
        batch_s = await batch_run(data, args.fills, Durability(args.durability), 100)
        naive_s = await naive_run(data, args.naive_fills)
    ack_rate = args.fills / j["ack_s"]
    flush_rate = args.fills / j["flush_s"]
    naive_rate = args.naive_fills / naive_s
    print(
        f"journal ({args.durability}, {args.in_flight} concurrent awaits): {args.fills:,} fills acknowledged "
        f"in {j['ack_s']:.2f}s = {ack_rate:,.0f} fills/s durably acknowledged"
    )
    print(
        f"journal ({args.durability}, record_fills of 100): "
        f"{args.fills / batch_s:,.0f} fills/s durably acknowledged"
    )
    print(f"  all in ArcticDB after {j['flush_s']:.2f}s = {flush_rate:,.0f} fills/s journal->ArcticDB")
    print(f"naive (one ArcticDB append per fill, {args.naive_fills:,} fills): {naive_rate:,.0f} fills/s")
    print(
        f"ratio: acknowledged {ack_rate / naive_rate:,.0f}x naive; "
        f"in ArcticDB {flush_rate / naive_rate:,.0f}x naive"
    )
    print(
        f"folded fills read after {args.fills:,} fills: {j['warm_ms']:.2f} ms (warm reader); "
        f"{j['delta_ms']:.1f} ms after 100 new fills + 100 commissions (delta fold); "
        f"{j['cold_ms']:.0f} ms cold (full read + fold)"
    )
    ok = ack_rate >= 10_000 and ack_rate / naive_rate >= 50 and j["warm_ms"] < 10
    print("goals (>=10,000 fills/s, >=50x naive, read < 10 ms):", "MET" if ok else "NOT MET")
    if args.json:
        figures = {"bench": "fills_journal", "journal_ack_fills_s": round(ack_rate),
                   "journal_batch_fills_s": round(args.fills / batch_s),
                   "arctic_flush_fills_s": round(flush_rate),
                   "naive_append_fills_s": round(naive_rate, 1), "warm_read_ms": round(j["warm_ms"], 2),
                   "cold_read_ms": round(j["cold_ms"], 1), "goals_met": ok}  # fmt: skip
        print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
