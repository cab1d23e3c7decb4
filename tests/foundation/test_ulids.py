"""The orderRef's ULID: python-ulid's canonical digits, made faster, and sorting after every earlier one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from ulid import ULID

from mats.actors.finished_refs import FinishedRefs
from mats.ulids import UlidFactory, ulid_string


@given(ms=st.integers(0, 2**48 - 1), tail=st.integers(0, 2**80 - 1))
def test_the_digits_are_those_python_ulid_writes(ms: int, tail: int) -> None:
    assert ulid_string(ms, tail) == str(ULID.from_int((ms << 80) | tail))


@given(steps=st.lists(st.integers(-5_000, 5), min_size=1, max_size=60))
def test_each_ulid_sorts_after_the_last_even_when_the_clock_steps_back(steps: list[int]) -> None:
    now = [1_763_990_000_000]

    def clock() -> int:
        return now[0]

    factory = UlidFactory(clock_ms=clock)
    made = [factory.new()]
    for step in steps:
        now[0] += step  # NTP steps back, or several orders in one millisecond
        made.append(factory.new())
    assert made == sorted(made) and len(set(made)) == len(made)


def test_a_new_order_never_falls_under_the_watermark_of_finished_ones_after_a_clock_step_back() -> None:
    now = [1_763_990_000_000]
    factory = UlidFactory(clock_ms=lambda: now[0])
    finished = FinishedRefs(keep=1)
    for _ in range(3):
        finished.add(f"mats:s1:{factory.new()}")  # the older ones leave the set for the watermark
    now[0] -= 60_000  # the wall clock steps back a minute
    assert f"mats:s1:{factory.new()}" not in finished
