"""Hypothesis-driven schedules of orders, partial fills, cancels and faults (issue #12).

Each example is a fresh simulator and engine playing one schedule (tests/faults/schedules.py), with the
four invariants checked after every step. Coverage is summed over the examples and required at the end:
fills made while MATS was disconnected, corrections, partial fills and late commissions must all have
happened, so a run of trivial schedules cannot pass. ``make test`` plays a few (about two minutes);
``bench/chaos.py --examples 500`` plays many.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings

from .schedules import COVERAGE, Step, run_schedule, schedules

#: 0.5-4 s each (quiet or busy machine): 10-80 s in ``make test``; ``FAULT_EXAMPLES=200`` for more.
EXAMPLES = int(os.environ.get("FAULT_EXAMPLES", "20"))


@pytest.mark.ib_client_errors_expected  # Gateway restarts refuse connections
def test_random_schedules_of_orders_fills_cancels_and_faults_keep_the_invariants() -> None:
    seen: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking here: bench/chaos.py shrinks
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(schedules(max_free=5))
    def play(steps: list[Step]) -> None:
        coverage = asyncio.run(run_schedule(steps))
        for name, count in coverage.items():
            if count:
                event(name)
        seen.update(coverage)

    play()
    missing = [name for name in COVERAGE if not seen[name]]
    assert not missing, f"no schedule made these happen: {missing} (seen: {dict(seen)})"
