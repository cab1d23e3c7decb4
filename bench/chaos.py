"""Chaos: hundreds of randomised schedules of orders, partial fills, cancels and faults (issue #12).

    .venv/bin/python bench/chaos.py [--examples 500] [--max-steps 12] [--seed N]

Each example plays one schedule (tests/faults/schedules.py) on a fresh simulator and engine and checks the
four invariants after every step: every execution once in the folded ``{account}/fills`` with its
commission, IB = Σ strategies + Discretionary (or a reported break), no order unknown to MATS, no order
sent twice. A failure is shrunk by hypothesis to a short schedule and printed: make it a named test in
tests/faults/test_regressions.py. At the end: examples played, wall time per example, and the coverage
(fills while disconnected, corrections, partial fills, late commissions, faults of each kind).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import structlog
from hypothesis import HealthCheck, given, seed, settings

from faults.schedules import COVERAGE, Step, run_schedule, schedules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=500, help="schedules to play (default 500)")
    parser.add_argument(
        "--max-steps", type=int, default=12, help="free steps per schedule, besides the required five"
    )
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed, to replay a run")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.CRITICAL
    )  # the engine's and the simulator's logs would drown the summary
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))

    seen: Counter[str] = Counter()
    played = 0
    started = time.perf_counter()

    @settings(
        max_examples=args.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(schedules(max_free=args.max_steps))
    def play(steps: list[Step]) -> None:
        nonlocal played
        seen.update(asyncio.run(run_schedule(steps)))
        played += 1
        if played % 25 == 0:
            print(f"  {played} schedules, {time.perf_counter() - started:.0f} s", flush=True)

    runner = play if args.seed is None else seed(args.seed)(play)
    failed = False
    try:
        runner()
    except Exception as exc:  # hypothesis has shrunk it and printed the falsifying schedule
        failed = True
        print("\nFAILED:", "".join(traceback.format_exception(exc))[-6000:], file=sys.stderr)
    elapsed = time.perf_counter() - started

    print(f"\nschedules played: {played} in {elapsed:.0f} s ({elapsed / max(played, 1):.2f} s each)")
    counts = ", ".join(f"{name}: {seen[name]}" for name in ("steps", "order", "cancel", "manual"))
    print(counts)
    print("coverage:")
    for name in (*COVERAGE, "restart", "reset", "farm_flap", "duplicate"):
        print(f"  {name:<24} {seen[name]}")
    missing = [name for name in COVERAGE if not seen[name]]
    if missing:
        print(f"coverage missing: {missing}", file=sys.stderr)
    print("result:", "FAILED" if failed or missing else "all invariants held")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
