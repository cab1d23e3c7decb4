"""The folding rules as a pure function, and the incremental view agreeing with it however the rows arrive."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mats.store import FoldedFills, fold_fills
from mats.store.schemas import FILLS

NS0 = 1_795_000_000_000_000_000


def rows(events: list[tuple[str, int, int, float]]) -> pd.DataFrame:
    """{account}/fills rows from (kind, execution, revision, value) in journal order."""
    out: list[tuple[Any, ...]] = []
    for seq, (kind, k, rev, value) in enumerate(events, start=1):
        base = f"0000e0d5.{k:08d}"
        exec_id = f"{base}.{rev:02d}"
        if kind == "commission":
            out.append(
                (
                    seq,
                    exec_id,
                    base,
                    rev,
                    kind,
                    None,
                    0,
                    "",
                    "",
                    0,
                    "",
                    "",
                    None,
                    None,
                    value,
                    "USD",
                    None,
                    1.0,
                )
            )
        else:
            out.append(
                (
                    seq,
                    exec_id,
                    base,
                    rev,
                    kind,
                    NS0 + k,
                    900 + k,
                    f"mats:s:{k}",
                    "s",
                    265598,
                    "AAPL",
                    "BUY",
                    10.0,
                    value,
                    None,
                    "USD",
                    1.0,
                    None,
                )
            )
    return FILLS.frame([NS0 + i for i in range(1, len(out) + 1)], out)


def test_latest_revision_wins_and_its_own_commission_is_joined() -> None:
    folded = fold_fills(
        rows(
            [
                ("fill", 1, 1, 100.0),
                ("commission", 1, 1, 1.0),
                ("fill", 2, 1, 200.0),
                ("correction", 1, 2, 101.0),
                ("commission", 2, 1, 2.0),
                ("commission", 2, 1, 2.5),  # a later report for the same execId replaces the earlier one
            ]
        )
    )
    assert folded["exec_id"].tolist() == ["0000e0d5.00000001.02", "0000e0d5.00000002.01"]
    assert folded["price"].tolist() == [101.0, 200.0]
    assert math.isnan(folded["commission"].iloc[0])  # the correction has no report of its own yet
    assert folded["commission"].iloc[1] == 2.5
    assert folded.index.is_monotonic_increasing


def test_a_frame_handed_out_never_changes_under_its_reader() -> None:
    view = FoldedFills()
    view.apply(rows([("fill", 1, 1, 100.0), ("fill", 2, 1, 200.0)]))
    before = view.frame()
    view.apply(
        rows(
            [
                ("fill", 1, 1, 100.0),
                ("fill", 2, 1, 200.0),
                ("commission", 1, 1, 1.0),
                ("correction", 2, 2, 199.0),
            ]
        )
    )
    assert before["price"].tolist() == [100.0, 200.0] and before["commission"].isna().all()
    after = view.frame()
    assert after["price"].tolist() == [100.0, 199.0] and after["commission"].iloc[0] == 1.0


event = st.tuples(
    st.sampled_from(["fill", "commission"]),
    st.integers(1, 6),
    st.integers(1, 3),
    st.floats(1, 500, allow_nan=False),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(event, max_size=40), st.lists(st.integers(1, 40), max_size=6))
def test_the_incremental_view_equals_a_fold_of_the_whole_table(evts: list[Any], cuts: list[int]) -> None:
    # the journal only ever stores a higher revision of a base, labelled correction after the first
    accepted: list[tuple[str, int, int, float]] = []
    revision: dict[int, int] = {}
    for kind, k, rev, value in evts:
        if kind == "commission":
            accepted.append((kind, k, rev, value))
        elif rev > revision.get(k, 0):
            accepted.append(("fill" if k not in revision else "correction", k, rev, value))
            revision[k] = rev
    table = rows(accepted)
    view = FoldedFills()
    start = 0
    for cut in [*sorted(set(cuts)), len(table)]:
        view.apply(table.iloc[start:cut])
        view.apply(table.iloc[max(0, start - 3) : cut])  # overlapping replays are harmless
        start = max(start, cut)
    expected = fold_fills(table)
    pd.testing.assert_frame_equal(view.frame(), expected, check_index_type=False)
