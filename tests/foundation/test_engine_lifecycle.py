"""The engine's start-up: a component that cannot start leaves nothing running behind it."""

from __future__ import annotations

import pytest

from mats.config import Settings
from mats.engine import Engine


class Recorded:
    """A component that notes its start and stop in a shared list (or refuses to start)."""

    def __init__(self, name: str, trail: list[str], *, fails: bool = False) -> None:
        self.name, self.trail, self.fails = name, trail, fails

    async def start(self, engine: Engine) -> None:
        if self.fails:
            raise RuntimeError(f"{self.name} cannot start")
        self.trail.append(f"start {self.name}")

    async def stop(self) -> None:
        self.trail.append(f"stop {self.name}")


async def test_a_component_that_cannot_start_stops_those_started_before_it_in_reverse() -> None:
    trail: list[str] = []
    components = [Recorded("store", trail), Recorded("ib", trail), Recorded("api", trail, fails=True)]
    engine = Engine(Settings(), components=components)  # type: ignore[arg-type]
    with pytest.raises(ExceptionGroup) as raised:  # the engine's task group carries the failure out
        await engine.run(handle_signals=False)
    assert raised.group_contains(RuntimeError, match="api cannot start", depth=None)
    assert trail == ["start store", "start ib", "stop ib", "stop store"]
    assert engine.stopped.is_set() and not engine.ready.is_set()
