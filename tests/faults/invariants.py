"""The four things that must hold after any fault (issue #12), each checked on its own.

Every check returns the list of what broke, in words a trader would use, so ``assert_invariants`` can say
precisely which execution, contract or order is wrong instead of "assert False".

(a) every simulator execution (corrections applied) is in the folded ``{account}/fills`` exactly once,
    with its price, quantity and commission;
(b) per contract IB's net position = Σ strategies + Discretionary, or the break is reported (and locked);
(c) every ``mats:`` order at the simulator is known to the TradeManager and to the journal;
(d) no orderRef reached the simulator twice.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from mats.model import ORDER_REF_PREFIX, Position, split_exec_id
from mats.reconcile import TOLERANCE, ContractReconciliation
from mats.sim.control import Fill as SimFill
from mats.sim.orders import OrderView
from mats.store.schemas import KIND_COMMISSION


@dataclass(frozen=True)
class Outcome:
    """What a scenario left behind, read after the engine stopped (its last flush done)."""

    executions: Sequence[SimFill]  # the simulator's, corrections applied
    sim_orders: Sequence[OrderView]
    sim_positions: Mapping[int, float]  # conId → IB's net quantity
    folded: pd.DataFrame  # {account}/fills folded, as the FillsReader serves it
    raw_fills: pd.DataFrame  # {account}/fills as appended
    reconciliation: Sequence[ContractReconciliation]
    positions: Sequence[Position]  # the PortfolioManager's books at the end
    trade_manager_refs: frozenset[str]
    journal_refs: frozenset[str]
    expected_breaks: Mapping[int, float] = field(default_factory=dict)  # conId → break a fault made
    working_con_ids: frozenset[int] = frozenset()  # contracts with an order working at IB: not measured


def executions_recorded_once(
    executions: Sequence[SimFill], folded: pd.DataFrame, raw: pd.DataFrame
) -> list[str]:
    """(a) each execution once in the folded fills, as the simulator has it now, commission joined."""
    broken: list[str] = []
    rows = {str(r.base_exec_id): r for r in folded.itertuples()}
    if len(rows) != len(folded):
        broken.append(f"folded fills repeat a base execId: {sorted(folded['base_exec_id'])}")
    expected_bases: set[str] = set()
    for fill in executions:
        e, report = fill.execution, fill.commission
        base = split_exec_id(e.exec_id)[0]
        expected_bases.add(base)
        row = rows.get(base)
        if row is None:
            broken.append(
                f"execution {e.exec_id} ({e.order_ref or 'manual'}, {e.shares} @ {e.price}) is not in fills"
            )
            continue
        if row.exec_id != e.exec_id:
            broken.append(f"execution {base}: fills hold revision {row.exec_id}, IB's current is {e.exec_id}")
        qty, price, commission = float(row.qty), float(row.price), float(row.commission)  # type: ignore[arg-type]
        if not math.isclose(qty, float(e.shares)) or not math.isclose(price, e.price):
            broken.append(f"execution {e.exec_id}: fills say {qty} @ {price}, IB says {e.shares} @ {e.price}")
        if not math.isclose(commission, report.commission, abs_tol=1e-9):  # NaN (no report) is never close
            broken.append(
                f"execution {e.exec_id}: commission {commission} in fills, IB charged {report.commission}"
            )
    extra = set(rows) - expected_bases
    if extra:
        broken.append(f"fills hold executions the simulator never made: {sorted(extra)}")
    executions_only = raw.loc[raw["kind"] != KIND_COMMISSION]
    repeated = [exec_id for exec_id, n in Counter(executions_only["exec_id"]).items() if n > 1]
    if repeated:
        broken.append(f"the append-only fills repeat executions (same execId twice): {sorted(repeated)}")
    return broken


def positions_reconcile(
    sim_positions: Mapping[int, float],
    rows: Sequence[ContractReconciliation],
    positions: Iterable[Position],
    expected_breaks: Mapping[int, float],
    working_con_ids: frozenset[int] = frozenset(),
) -> list[str]:
    """(b) per contract IB = Σ strategies + Discretionary, or a reported, locked break."""
    broken: list[str] = []
    booked: dict[int, float] = {}
    for p in positions:
        booked[p.con_id] = booked.get(p.con_id, 0.0) + p.qty
    by_con = {r.con_id: r for r in rows}
    for con_id in sorted(set(sim_positions) | set(booked) | set(by_con)):
        ib_qty = sim_positions.get(con_id, 0.0)
        row = by_con.get(con_id)
        residual = ib_qty - booked.get(con_id, 0.0)
        if row is None:
            if abs(ib_qty) > TOLERANCE or abs(booked.get(con_id, 0.0)) > TOLERANCE:
                broken.append(
                    f"contract {con_id}: IB holds {ib_qty:g}, books {booked.get(con_id, 0.0):g}, no row"
                )
            continue
        if not math.isclose(row.ib_qty, ib_qty, abs_tol=TOLERANCE):
            broken.append(
                f"{row.symbol}: reconciliation saw IB at {row.ib_qty:g}, the simulator holds {ib_qty:g}"
            )
        if row.break_qty is None:
            if con_id not in working_con_ids:
                broken.append(f"{row.symbol}: not measured, yet no order of it is working at IB")
            elif not math.isclose(residual, expected_breaks.get(con_id, 0.0), abs_tol=1e-6):
                broken.append(
                    f"{row.symbol}: IB {ib_qty:g} − books {booked.get(con_id, 0.0):g} = {residual:+g}"
                )
            continue
        if not math.isclose(
            row.attributed_qty + row.discretionary_qty + row.break_qty, row.ib_qty, abs_tol=1e-6
        ):
            broken.append(
                f"{row.symbol}: {row.attributed_qty:g} + {row.discretionary_qty:g} + break "
                f"{row.break_qty:g} ≠ IB {row.ib_qty:g}"
            )
        if row.break_qty and not row.locked:
            broken.append(f"{row.symbol}: break {row.break_qty:+g} is not locked")
        expected = expected_breaks.get(con_id, 0.0)
        if not math.isclose(residual, expected, abs_tol=1e-6):
            broken.append(
                f"{row.symbol}: IB {ib_qty:g} − books {booked.get(con_id, 0.0):g} = {residual:+g}, "
                f"expected a break of {expected:+g}"
            )
        if not math.isclose(row.break_qty, residual, abs_tol=1e-6):
            broken.append(f"{row.symbol}: reported break {row.break_qty:+g}, the books leave {residual:+g}")
    return broken


def orders_known(
    sim_orders: Sequence[OrderView], trade_manager: frozenset[str], journal: frozenset[str]
) -> list[str]:
    """(c) every ``mats:`` order at IB was placed by MATS: the TradeManager and the journal know it."""
    broken = []
    for order in sim_orders:
        ref = order.ticket.order_ref
        if order.is_manual or not ref.startswith(ORDER_REF_PREFIX):
            continue
        if ref not in trade_manager:
            broken.append(f"order {ref} (permId {order.perm_id}) is at IB but unknown to the TradeManager")
        if ref not in journal:
            broken.append(f"order {ref} (permId {order.perm_id}) is at IB but not in the journal")
    return broken


def no_duplicate_orders(sim_orders: Sequence[OrderView]) -> list[str]:
    """(d) each orderRef reached IB at most once (a retry must never send an order twice)."""
    refs = Counter(o.ticket.order_ref for o in sim_orders if o.ticket.order_ref)
    return [f"orderRef {ref} reached IB {n} times" for ref, n in sorted(refs.items()) if n > 1]


def broken_invariants(outcome: Outcome) -> list[str]:
    return [
        *(
            f"(a) {b}"
            for b in executions_recorded_once(outcome.executions, outcome.folded, outcome.raw_fills)
        ),
        *(
            f"(b) {b}"
            for b in positions_reconcile(
                outcome.sim_positions,
                outcome.reconciliation,
                outcome.positions,
                outcome.expected_breaks,
                outcome.working_con_ids,
            )
        ),
        *(
            f"(c) {b}"
            for b in orders_known(outcome.sim_orders, outcome.trade_manager_refs, outcome.journal_refs)
        ),
        *(f"(d) {b}" for b in no_duplicate_orders(outcome.sim_orders)),
    ]


def assert_invariants(outcome: Outcome) -> None:
    broken = broken_invariants(outcome)
    assert not broken, "invariants broken:\n  " + "\n  ".join(broken)
