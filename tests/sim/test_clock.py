"""The virtual clock: timers fire in order at their own virtual time; speed scales the wall."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from mats.sim.clock import VirtualClock

START = dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)


async def test_advance_fires_due_timers_in_order_each_at_its_own_time() -> None:
    clock = VirtualClock(START, running=False)
    seen: list[tuple[str, dt.datetime]] = []
    clock.call_later(10, lambda: seen.append(("b", clock.now())))
    clock.call_later(5, lambda: seen.append(("a", clock.now())))
    late = clock.call_later(30, lambda: seen.append(("late", clock.now())))

    def chained() -> None:  # a timer set by a timer inside the jump fires in the same jump
        seen.append(("c", clock.now()))
        clock.call_later(3, lambda: seen.append(("d", clock.now())))

    clock.call_later(12, chained)
    late.cancel()

    assert clock.advance(20) == 4
    at = [(name, (when - START).total_seconds()) for name, when in seen]
    assert at == [("a", 5.0), ("b", 10.0), ("c", 12.0), ("d", 15.0)]
    assert clock.now() == START + dt.timedelta(seconds=20)
    with pytest.raises(ValueError):
        clock.advance(-1)


async def test_a_running_clock_scales_wall_time_by_its_speed() -> None:
    clock = VirtualClock(START, speed=1000.0)
    fired = asyncio.Event()
    clock.call_later(60, fired.set)  # a virtual minute: 60 ms of wall time
    await asyncio.wait_for(fired.wait(), 2.0)
    assert clock.now() >= START + dt.timedelta(seconds=60)

    clock.pause()
    frozen = clock.now()
    await asyncio.sleep(0.01)
    assert clock.now() == frozen
    clock.set_speed(1.0)
    clock.resume()
    assert clock.now() >= frozen
