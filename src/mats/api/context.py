"""What the routes may use, handed to them by dependency injection instead of globals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from litestar.di import NamedDependency

from mats.api.auth import ApiToken
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

    @property
    def settings(self) -> Settings:
        return self.engine.settings


#: How a route asks for the context: ``def route(ctx: Ctx) -> …``.
Ctx = NamedDependency[ApiContext]
