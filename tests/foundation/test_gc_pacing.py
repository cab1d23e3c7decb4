"""The GcPacer: young collections between callbacks, not wherever allocations happen to cross a threshold."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from mats.gc_pacing import GcPacer


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of each collection that starts, automatic or not."""
    seen: list[int] = []

    def started(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.collect()
    gc.callbacks.append(started)
    try:
        yield seen
    finally:
        gc.callbacks.remove(started)


def cycles(n: int) -> list[list[Any]]:
    made: list[list[Any]] = []
    for _ in range(n):
        node: list[Any] = []
        node.append(node)  # a cycle: only the collector frees it
        made.append(node)
    return made


def test_a_burst_below_the_backstop_is_collected_by_the_pacer_not_in_the_middle_of_it(
    collections: list[int],
) -> None:
    pacer = GcPacer(every=0.001, collect_at=1_000, backstop=50_000)
    pacer.install()
    try:
        kept = cycles(20_000)  # 4x the old automatic threshold of 5,000: no collection inside the burst
        assert collections == []
        del kept
        assert pacer.tick() == 0  # what the engine's pacer task does between callbacks
        assert collections == [0]
        assert gc.get_count()[0] < 1_000
    finally:
        pacer.restore()


def test_middle_and_full_collections_come_after_as_many_younger_ones_as_before() -> None:
    pacer = GcPacer(collect_at=10, backstop=50_000, middle_every=3, full_every=2)
    gc.collect()  # every count at 0
    pacer.install()
    try:
        kept, generations = [], []
        for _ in range(9):
            kept.append(cycles(100))
            generations.append(pacer.tick())
        # three young, then a middle one; again; then a full one (two middle ones before it)
        assert generations == [0, 0, 0, 1, 0, 0, 0, 1, 2]
        assert pacer.collections == [6, 2, 1]
    finally:
        pacer.restore()


def test_too_few_young_objects_are_left_for_later_and_the_thresholds_are_restored() -> None:
    before = gc.get_threshold()
    pacer = GcPacer(collect_at=1_000_000, backstop=2_000_000)
    pacer.install()
    assert gc.get_threshold() == (2_000_000, pacer.middle_every, pacer.full_every)
    assert pacer.tick() is None
    pacer.restore()
    assert gc.get_threshold() == before
    with pytest.raises(ValueError, match="below backstop"):
        GcPacer(collect_at=5_000, backstop=5_000)
