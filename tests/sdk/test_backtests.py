"""Backtests through the SDK: run in the engine's worker process, waited for, read back like
``mats.backtest``'s own result."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import mats.sdk
from mats.backtest import run
from mats.backtest.data import synth_bars
from mats.sdk import MatsApiError

from .conftest import TOKEN, Running

REQUEST: dict[str, Any] = {
    "cls": "strategies.sma_cross:SmaCross",
    "symbols": ["AAPL"],
    "params": {"fast": 5, "slow": 20, "qty": 10},
    "synthetic_bars": 3000,
    "seed": 7,
}


async def test_a_backtest_runs_is_waited_for_and_matches_a_local_run(running: Running) -> None:
    async with mats.sdk.connect(running.url, TOKEN) as m:
        with pytest.raises(MatsApiError) as bad:
            await m.backtest(REQUEST, cash="lots")
        assert bad.value.status == 400 and "cash" in bad.value.message
        seen: list[float] = []
        result = await m.backtest(REQUEST, progress=seen.append, timeout=120)
        assert result.status == "done" and result.finished and seen[-1] == 1.0
        listed = await m.backtests()
        assert listed.loc[result.run_id, "status"] == "done"
        assert isinstance(listed.loc[result.run_id, "created_at"], pd.Timestamp)

    expected = run(
        "strategies.sma_cross:SmaCross", synth_bars(3000, seed=7), params=REQUEST["params"], symbol="AAPL"
    )
    assert result.stats is not None
    assert result.stats["final_equity"] == pytest.approx(expected.stats["final_equity"])
    assert isinstance(result.equity.index, pd.DatetimeIndex)
    assert result.equity.iloc[-1] == pytest.approx(expected.stats["final_equity"])
    assert len(result.fills) == len(expected.fills) > 0
    assert list(result.fills["price"]) == pytest.approx(list(expected.fills["price"]))
    assert set(result.fills["side"]) <= {"BUY", "SELL"}
