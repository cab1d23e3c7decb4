"""Finished orders' refs are refused for ever in bounded memory (the TradeManager's ``_forgotten``)."""

from __future__ import annotations

from ulid import ULID

from mats.actors.finished_refs import FinishedRefs
from mats.model import make_order_ref


def test_a_ref_let_go_of_long_ago_is_still_refused_while_memory_stays_bounded() -> None:
    refs = FinishedRefs(keep=3)
    made = [make_order_ref("s1", str(ULID())) for _ in range(10)]
    for ref in made:
        refs.add(ref)
    assert len(refs) == 3  # only the newest three are held
    assert all(ref in refs for ref in made)  # the older seven by the watermark
    newer = make_order_ref("s1", str(ULID()))
    assert newer not in refs  # a new order is never mistaken for a finished one


def test_a_ref_without_a_ulid_is_refused_only_while_it_is_held() -> None:
    refs = FinishedRefs(keep=2)
    for name in ("mats:s1:A", "mats:s1:B", "mats:s1:C"):
        refs.add(name)
    assert "mats:s1:A" not in refs
    assert "mats:s1:B" in refs and "mats:s1:C" in refs
