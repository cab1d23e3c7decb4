"""A small engine for the crash tests: journals a deterministic stream of fills, acknowledges each on stdout.

Usage: ``python crash_child.py DATA_DIR EVENTS SEED``. For every event it prints ``try <kind> <exec_id>``
before recording it and ``ack <kind> <exec_id> <seq|dup>`` once the journal has committed it, while a
Flusher moves rows to ArcticDB (LMDB under DATA_DIR) in the background. ``MATS_CRASH_AT`` (see
mats.store.crashpoints) or the parent's SIGKILL ends it somewhere; the parent then recovers and checks that
ArcticDB holds exactly what was acknowledged."""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import structlog
from fillgen import make_fill

from mats.model import CommissionReport, ExecId
from mats.store import ArcticStore, Flusher, Journal

ACCOUNT = "DU0000001"


def events(n: int, seed: int) -> list[tuple[str, object]]:
    """Fills, repeats, corrections and commissions in the order IB might send them."""
    rng = random.Random(seed)
    out: list[tuple[str, object]] = []
    revisions: dict[int, int] = {}
    for _ in range(n):
        roll = rng.random()
        if roll < 0.6 or not revisions:
            k = len(revisions) + 1
            revisions[k] = 1
            out.append(("fill", make_fill(k, 1, price=100 + k / 100)))
        elif roll < 0.7:
            k = rng.choice(list(revisions))
            out.append(("fill", make_fill(k, revisions[k], price=100 + k / 100)))  # a repeat
        elif roll < 0.8:
            k = rng.choice(list(revisions))
            revisions[k] += 1
            out.append(("fill", make_fill(k, revisions[k], price=99 + k / 100, qty=5)))  # a correction
        else:
            k = rng.choice(list(revisions))
            exec_id = make_fill(k, revisions[k]).exec_id
            out.append(
                ("commission", CommissionReport(exec_id=ExecId(exec_id), commission=round(k / 1000, 6)))
            )
    return out


async def main(data_dir: Path, n: int, seed: int) -> None:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    journal = await Journal(data_dir / "journal.sqlite").open()
    store = await ArcticStore(f"lmdb://{data_dir}/arctic").open()
    flusher = Flusher(journal, store, ACCOUNT, max_rows=20, interval=0.005)
    await flusher.recover()
    task = asyncio.create_task(flusher.run())
    out = sys.stdout
    for i, (kind, event) in enumerate(events(n, seed)):
        if i % 40 == 39:  # let flushes happen mid-stream however fast the journal is, so crash points are hit
            await flusher.wait_flushed(timeout=30)
        exec_id = event.exec_id  # type: ignore[attr-defined]
        out.write(f"try {kind} {exec_id}\n")
        out.flush()
        if kind == "fill":
            rec = await journal.record_fill(event)
        else:
            rec = await journal.record_commission(event)
        out.write(f"ack {kind} {exec_id} {rec.seq if rec is not None else 'dup'}\n")
        out.flush()
    await flusher.wait_flushed(timeout=60)
    out.write("done\n")
    out.flush()
    task.cancel()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
