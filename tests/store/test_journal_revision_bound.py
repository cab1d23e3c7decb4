"""The journal's repeat check holds few executions in memory and still catches every repeat."""

from __future__ import annotations

from pathlib import Path

from fillgen import make_fill

from mats.store.journal import Journal


async def test_a_repeat_older_than_the_in_memory_revisions_is_still_refused_after_a_reopen(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    async with Journal(path) as journal:
        journal.keep_revisions = 3
        for n in range(10):
            assert await journal.record_fill(make_fill(n)) is not None
        assert list(journal._revisions) == [make_fill(n).exec_id.rsplit(".", 1)[0] for n in (7, 8, 9)]
        assert await journal.record_fill(make_fill(0)) is None  # let go from memory, found in SQLite
        corrected = await journal.record_fill(make_fill(1, revision=2, price=191.0))
        assert corrected is not None and corrected.kind == "correction"
        assert await journal.record_fill(make_fill(1, revision=1)) is None  # older than what is held

    reopened = Journal(path)
    reopened.keep_revisions = 3
    async with reopened:
        assert len(reopened._revisions) == 3  # the newest three, not the whole day
        assert await reopened.record_fill(make_fill(2)) is None
        assert await reopened.record_fill(make_fill(1, revision=2, price=191.0)) is None
        assert (await reopened.record_fill(make_fill(10))) is not None
