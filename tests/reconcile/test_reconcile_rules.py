"""Reconciliation as a pure function: break = IB − strategies − Discretionary, never measured in flight."""

from __future__ import annotations

from mats.model import DISCRETIONARY, ConId, Position, StrategyId
from mats.reconcile import lock_reason, reconcile


def pos(strategy: str, con_id: int, qty: float, symbol: str = "AAPL") -> Position:
    return Position(StrategyId(strategy), ConId(con_id), symbol, qty, 100.0)


def test_strategies_plus_discretionary_explain_ib_exactly() -> None:
    [row] = reconcile({1: ("AAPL", 25.0)}, [pos("a", 1, 30), pos("b", 1, -10), pos(DISCRETIONARY, 1, 5)])
    assert (row.ib_qty, row.attributed_qty, row.discretionary_qty, row.break_qty, row.locked) == (
        25,
        20,
        5,
        0,
        False,
    )


def test_a_split_shows_up_as_a_break_and_locks_the_contract() -> None:
    [row] = reconcile({1: ("AAPL", 200.0)}, [pos("a", 1, 100)])
    assert (row.break_qty, row.locked) == (100.0, True)
    assert "locked" in lock_reason(row) and "break +100" in lock_reason(row)


def test_a_contract_with_an_order_in_flight_is_not_measured() -> None:
    [row] = reconcile({1: ("AAPL", 110.0)}, [pos("a", 1, 100)], in_flight={1})
    assert (row.break_qty, row.locked) == (None, False)


def test_positions_only_mats_or_only_ib_knows_are_both_breaks() -> None:
    rows = {r.symbol: r for r in reconcile({2: ("MSFT", 7.0)}, [pos("a", 1, 3)])}
    assert rows["MSFT"].break_qty == 7.0 and rows["AAPL"].break_qty == -3.0


def test_flat_everywhere_is_not_reported() -> None:
    assert reconcile({1: ("AAPL", 0.0)}, [pos("a", 1, 0)]) == []
