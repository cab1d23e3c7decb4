"""What the routes may use, handed to them by dependency injection instead of globals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from litestar.di import NamedDependency

from mats.api.auth import ApiToken
from mats.api.encoded import EncodedEnvelopes, EncodedReads
from mats.api.loopshare import LoopShare
from mats.config import Settings
from mats.engine import Engine


@dataclass
class ApiContext:
    engine: Engine
    token: ApiToken
    settings_path: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    unhandled_exceptions: int = 0
    extras: dict[str, Any] = field(default_factory=dict)
    loop_share: LoopShare | None = None  # set by the embedded server; stream sends take turns too

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @cached_property
    def reads(self) -> EncodedReads:
        """The hot read routes' encoded bodies (one engine, one bus, one cache)."""
        return EncodedReads(self.engine.bus)

    @cached_property
    def envelopes(self) -> EncodedEnvelopes:
        return EncodedEnvelopes()


#: How a route asks for the context: ``def route(ctx: Ctx) -> …``.
Ctx = NamedDependency[ApiContext]
