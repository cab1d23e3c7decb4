"""Supervisor: runs actors as tasks of one anyio task group; starts them in order, stops them in reverse.

An actor's lifetime is a task in its supervisor's group, so cancelling the engine cancels everything,
and a failing actor is contained by its own policy (see ``Actor``) instead of tearing the group down.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import anyio
import structlog
from anyio.abc import TaskGroup

from mats.actors.base import Actor

log = structlog.get_logger("mats.supervisor")


class Supervisor:
    def __init__(self, *, stop_timeout: float = 10.0) -> None:
        self.stop_timeout = stop_timeout
        self._actors: dict[str, Actor] = {}
        self._group: TaskGroup | None = None

    async def __aenter__(self) -> Self:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._group is not None
        if exc_type is None:
            await self.stop_all()
        else:
            self._group.cancel_scope.cancel()
        return await self._group.__aexit__(exc_type, exc, tb)

    async def spawn(self, actor: Actor) -> Actor:
        """Start ``actor`` and return once its ``on_start`` has run."""
        if self._group is None:
            raise RuntimeError("supervisor is not running; use 'async with Supervisor()'")
        if actor.name in self._actors and self._actors[actor.name].running:
            raise ValueError(f"an actor named {actor.name!r} is already running")
        self._actors[actor.name] = actor
        self._group.start_soon(actor.run, name=f"actor:{actor.name}")
        await actor.wait_started()
        return actor

    async def stop(self, name: str, reason: str = "requested") -> None:
        actor = self._actors.get(name)
        if actor is not None:
            await actor.stop(reason, timeout=self.stop_timeout)

    async def stop_all(self, reason: str = "shutdown") -> None:
        """Stop in reverse start order, so consumers outlive the producers that feed them."""
        for actor in reversed(list(self._actors.values())):
            try:
                await actor.stop(reason, timeout=self.stop_timeout)
            except TimeoutError:
                log.error("actor.stop_timeout", actor=actor.name, timeout=self.stop_timeout)
        if self._group is not None:
            self._group.cancel_scope.cancel()

    def get(self, name: str) -> Actor | None:
        return self._actors.get(name)

    @property
    def actors(self) -> list[Actor]:
        return list(self._actors.values())
