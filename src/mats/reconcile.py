"""Reconciliation, pure: IB's net position per contract against what MATS attributes (DESIGN section 5).

``break = IB qty − Σ strategies − Discretionary``. Discretionary holds the fills nobody in MATS placed
(orders typed into TWS, other programs) and operator bookings, so a break is what no fill explains: a
split, an expiry, a fill older than IB's execution window, or a fill still on its way. A break is never
booked silently: the contract is locked until the break disappears or an operator books it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from mats.model import DISCRETIONARY, Position

TOLERANCE = 1e-6


class ContractReconciliation(msgspec.Struct, frozen=True):
    con_id: int
    symbol: str
    ib_qty: float
    attributed_qty: float  # Σ strategies, Discretionary excluded
    discretionary_qty: float
    break_qty: float | None  # None while an order in the contract is in flight: not measured
    locked: bool


def reconcile(
    ib_positions: Mapping[int, tuple[str, float]],
    attributed: Iterable[Position],
    *,
    in_flight: set[int] | frozenset[int] = frozenset(),
    tolerance: float = TOLERANCE,
) -> list[ContractReconciliation]:
    """One row per contract anybody holds; ``ib_positions`` maps conId → (symbol, net qty)."""
    strategies: dict[int, float] = {}
    discretionary: dict[int, float] = {}
    symbols: dict[int, str] = {con_id: symbol for con_id, (symbol, _) in ib_positions.items()}
    for position in attributed:
        book = discretionary if position.strategy_id == DISCRETIONARY else strategies
        book[position.con_id] = book.get(position.con_id, 0.0) + position.qty
        symbols.setdefault(position.con_id, position.symbol)
    rows = []
    for con_id in sorted(symbols):
        ib_qty = ib_positions.get(con_id, ("", 0.0))[1]
        ours, theirs = strategies.get(con_id, 0.0), discretionary.get(con_id, 0.0)
        if abs(ib_qty) <= tolerance and abs(ours) <= tolerance and abs(theirs) <= tolerance:
            continue
        measured = con_id not in in_flight
        residual = ib_qty - ours - theirs
        break_qty = (0.0 if abs(residual) <= tolerance else residual) if measured else None
        rows.append(
            ContractReconciliation(
                con_id=con_id,
                symbol=symbols[con_id],
                ib_qty=ib_qty,
                attributed_qty=ours,
                discretionary_qty=theirs,
                break_qty=break_qty,
                locked=bool(break_qty),
            )
        )
    return rows


def lock_reason(row: ContractReconciliation) -> str:
    """What an order in a locked contract is rejected with."""
    return (
        f"{row.symbol} ({row.con_id}) is locked: IB holds {row.ib_qty:g}, MATS attributes "
        f"{row.attributed_qty:g} to strategies and {row.discretionary_qty:g} to Discretionary "
        f"(break {row.break_qty:+g}); it unlocks when the break clears or an operator books it"
    )
