"""The invariant checks themselves: each one says precisely what broke when its rule is broken."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from mats.sim import SimServer

from .desk import Desk, pulse
from .invariants import Outcome, broken_invariants

AAPL = 265598


async def a_clean_outcome(sim: SimServer, tmp_path: Path) -> Outcome:
    async with Desk(sim, tmp_path, [pulse("trend", "AAPL", 10)]) as desk:
        await desk.pulse("trend", "AAPL", 100.0)
        sim.control.place_manual_order("AAPL", "BUY", 3)
        await desk.settle()
        return await desk.finish()


async def test_each_invariant_names_what_broke(sim: SimServer, tmp_path: Path) -> None:
    clean = await a_clean_outcome(sim, tmp_path)
    assert broken_invariants(clean) == []
    first = clean.folded.iloc[0]

    lost = dataclasses.replace(clean, folded=clean.folded.iloc[1:])
    assert [b for b in broken_invariants(lost) if b.startswith("(a)") and first["exec_id"] in b]

    doubled = dataclasses.replace(clean, raw_fills=pd.concat([clean.raw_fills, clean.raw_fills.iloc[:1]]))
    assert any("repeat executions" in b for b in broken_invariants(doubled))

    uncharged = clean.folded.copy()
    uncharged.loc[uncharged.index[0], "commission"] = float("nan")
    assert any("commission" in b for b in broken_invariants(dataclasses.replace(clean, folded=uncharged)))

    split = dataclasses.replace(clean, sim_positions={AAPL: 26.0})
    assert any(b.startswith("(b) AAPL") for b in broken_invariants(split))

    ref = next(iter(clean.trade_manager_refs))
    unknown = dataclasses.replace(clean, trade_manager_refs=clean.trade_manager_refs - {ref})
    assert broken_invariants(unknown) == [
        f"(c) order {ref} (permId {_perm(clean, ref)}) is at IB but unknown to the TradeManager"
    ]

    twice = dataclasses.replace(clean, sim_orders=[*clean.sim_orders, *clean.sim_orders[:1]])
    assert any(b.startswith("(d) orderRef") and "2 times" in b for b in broken_invariants(twice))


def _perm(outcome: Outcome, ref: str) -> int:
    return next(o.perm_id for o in outcome.sim_orders if o.ticket.order_ref == ref)
