"""Golden statistics of the shipped strategies, as LEAN keeps for its regression algorithms.

Each case runs a shipped strategy on seeded synthetic bars with IB-like commissions and compares every
statistic (and the first and last fills) with ``golden/<case>.json``. A change in the fill model, the
accounting or a strategy shows up here as a named number that moved. When a change is intended,
regenerate with ``MATS_UPDATE_GOLDEN=1 pytest tests/backtest/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from mats.backtest import run
from mats.backtest.data import synth_bars
from mats.backtest.storage import jsonable

GOLDEN = Path(__file__).parent / "golden"
CASES: dict[str, dict[str, Any]] = {
    "sma_cross": {"strategy": "strategies.sma_cross:SmaCross", "params": {"fast": 10, "slow": 50, "qty": 10}},
    "sma_cross_slow": {
        "strategy": "strategies.sma_cross:SmaCross",
        "params": {"fast": 30, "slow": 120, "qty": 100},
    },
    "dip_buyer": {"strategy": "strategies.dip_buyer:DipBuyer", "params": {}},
    "pulse": {"strategy": "strategies.pulse:Pulse", "params": {"every": 7, "direction": -1}},
}
BARS, SEED = 20_000, 20261124


def snapshot(case: dict[str, Any]) -> dict[str, Any]:
    result = run(case["strategy"], synth_bars(BARS, seed=SEED), params=case["params"], symbol="SPY")
    fills = result.fills.reset_index()
    fills["time"] = fills["time"].map(lambda t: t.isoformat())
    return {
        "strategy": case["strategy"],
        "params": case["params"],
        "bars": BARS,
        "seed": SEED,
        "stats": jsonable(result.stats),
        "first_fill": fills.iloc[0].to_dict() if len(fills) else None,
        "last_fill": fills.iloc[-1].to_dict() if len(fills) else None,
    }


def same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        if expected is None or actual is None:
            return expected is actual
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
    return bool(expected == actual)


@pytest.mark.parametrize("name", sorted(CASES))
def test_shipped_strategy_matches_its_golden_statistics(name: str) -> None:
    actual = json.loads(json.dumps(snapshot(CASES[name])))
    path = GOLDEN / f"{name}.json"
    if os.environ.get("MATS_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert expected["stats"]["trades"] > 20, "a golden case must trade enough to mean something"
    moved = {
        key: (expected["stats"].get(key), actual["stats"].get(key))
        for key in expected["stats"].keys() | actual["stats"].keys()
        if not same(expected["stats"].get(key), actual["stats"].get(key))
    }
    assert not moved, f"{name}: statistics moved (golden, now): {moved}"
    for which in ("first_fill", "last_fill"):
        for key, value in expected[which].items():
            assert same(value, actual[which][key]), f"{name}: {which}.{key} {value} → {actual[which][key]}"
