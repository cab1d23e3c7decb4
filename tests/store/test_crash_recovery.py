"""A child engine is SIGKILLed at each named crash point and at random; nothing acknowledged is lost or
doubled."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
from crash_child import ACCOUNT, events

from mats.model import split_exec_id
from mats.store import ArcticStore, FillsReader, Flusher, Journal, fold_fills

CHILD = Path(__file__).with_name("crash_child.py")
EVENTS = 400
SEED = 20261123

Expected = dict[str, tuple[str, float, float, float | None]]  # base -> (exec_id, price, qty, commission)


def model(evts: Sequence[tuple[str, object]]) -> Expected:
    """What the folded fills must be after these events, by the rules of DESIGN section 3."""
    revision: dict[str, int] = {}
    rows: dict[str, tuple[str, float, float]] = {}
    commissions: dict[str, float] = {}
    for kind, ev in evts:
        if kind == "fill":
            base, rev = split_exec_id(ev.exec_id)  # type: ignore[attr-defined]
            if base in revision and rev <= revision[base]:
                continue
            revision[base] = rev
            rows[base] = (ev.exec_id, ev.price, ev.qty)  # type: ignore[attr-defined]
        else:
            commissions[ev.exec_id] = ev.commission  # type: ignore[attr-defined]
    return {b: (e, p, q, commissions.get(e)) for b, (e, p, q) in rows.items()}


def as_expected(folded: pd.DataFrame) -> Expected:
    return {
        str(b): (str(e), float(p), float(q), None if pd.isna(c) else float(c))
        for b, e, p, q, c in zip(
            folded["base_exec_id"],
            folded["exec_id"],
            folded["price"],
            folded["qty"],
            folded["commission"],
            strict=True,
        )
    }


async def run_child(
    data_dir: Path, crash_at: str | None, kill_after_acks: int | None
) -> tuple[int, int, int]:
    """Run the child, return (tried, acknowledged, return code). SIGKILLed after ``kill_after_acks`` acks."""
    env = {k: v for k, v in os.environ.items() if k != "MATS_CRASH_AT"}
    if crash_at:
        env["MATS_CRASH_AT"] = crash_at
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        str(data_dir),
        str(EVENTS),
        str(SEED),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    tried = acked = 0
    async with asyncio.timeout(60):
        while line := (await proc.stdout.readline()).decode():
            if line.startswith("try "):
                tried += 1
            elif line.startswith("ack "):
                acked += 1
                if kill_after_acks is not None and acked == kill_after_acks:
                    proc.send_signal(signal.SIGKILL)
        code = await proc.wait()
    return tried, acked, code


async def recover_and_read(data_dir: Path) -> tuple[pd.DataFrame, list[int], pd.DataFrame]:
    """Restart here: recover the flusher from ArcticDB's metadata, flush the rest, read everything."""
    async with (
        Journal(data_dir / "journal.sqlite") as journal,
        ArcticStore(f"lmdb://{data_dir}/arctic") as store,
    ):
        flusher = Flusher(journal, store, ACCOUNT, interval=0.01)
        await flusher.recover()
        task = asyncio.create_task(flusher.run())
        try:
            await flusher.wait_flushed(timeout=30)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        raw = await store.read(ACCOUNT, "fills")
        journal_seqs = (await journal.fills_since(0))["seq"].tolist()
        folded = await FillsReader(store, ACCOUNT).folded()
    return raw, journal_seqs, folded


@pytest.mark.parametrize(
    ("crash_at", "kill_after"),
    [
        ("after_commit@150", None),
        ("mid_flush@3", None),
        ("after_arctic_append_before_mark@3", None),
        (None, random.Random(SEED).randint(60, EVENTS - 60)),
    ],
    ids=["after_commit", "mid_flush", "after_arctic_append_before_mark", "random_sigkill"],
)
async def test_a_killed_engine_loses_no_acknowledged_fill_and_stores_none_twice(
    tmp_path: Path, crash_at: str | None, kill_after: int | None
) -> None:
    tried, acked, code = await run_child(tmp_path, crash_at, kill_after)
    assert code == -signal.SIGKILL, f"the child should have been killed, it exited with {code}"
    assert 0 < acked < EVENTS and tried - acked <= 1

    raw, journal_seqs, folded = await recover_and_read(tmp_path)
    # row level: ArcticDB holds every journal row once, in journal order
    assert raw["seq"].tolist() == journal_seqs
    assert raw["seq"].is_unique and raw["seq"].is_monotonic_increasing
    assert not raw.loc[raw["kind"] != "commission", "exec_id"].duplicated().any()
    pd.testing.assert_frame_equal(folded, fold_fills(raw))
    # trader level: the folded fills are what was acknowledged (plus, at most, the one fill in flight)
    evts = events(EVENTS, SEED)
    got = as_expected(folded)
    assert got in (model(evts[:acked]), model(evts[: acked + 1])), (
        "folded fills differ from the acknowledged set"
    )

    # restart the engine: IB replays the day's executions; everything old is ignored, the rest lands once
    tried, acked, code = await run_child(tmp_path, None, None)
    assert (tried, acked, code) == (EVENTS, EVENTS, 0)
    raw, journal_seqs, folded = await recover_and_read(tmp_path)
    assert raw["seq"].tolist() == journal_seqs
    assert as_expected(folded) == model(evts)
