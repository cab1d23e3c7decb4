"""``GET|PUT /api/settings``: secrets redacted on the way out, every change validated and persisted."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
from litestar import get, put
from litestar.exceptions import ValidationException
from litestar.params import JSONBody

from mats.api.context import Ctx
from mats.config import SettingsError, apply_changes, redacted, write_overlay

# Keys read once at start-up; a change is saved and takes effect after a restart.
RESTART_KEYS = ("data_dir", "arctic_uri", "ib", "web", "storage", "log")


class SettingsChanged(msgspec.Struct, frozen=True):
    settings: dict[str, Any]
    restart_required: list[str]


@get("/api/settings", sync_to_thread=False)
def read_settings(ctx: Ctx) -> dict[str, Any]:
    return redacted(ctx.settings)


@put("/api/settings")
async def change_settings(ctx: Ctx, data: JSONBody[dict[str, Any]]) -> SettingsChanged:
    try:
        updated = apply_changes(ctx.settings, data)
    except SettingsError as exc:
        raise ValidationException(detail=str(exc)) from None
    await anyio.to_thread.run_sync(write_overlay, ctx.settings.data_dir, data)
    ctx.engine.settings = updated
    restart = sorted(key for key in data if key in RESTART_KEYS)
    return SettingsChanged(settings=redacted(updated), restart_required=restart)
