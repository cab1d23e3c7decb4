"""structlog, configured once: readable console lines for people, JSON lines for machines.

Context is bound, never formatted into the message (``log.bind(strategy_id=sid).info("order.placed")``),
and values under secret-looking keys are masked before any renderer sees them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

_SECRET_KEYS = re.compile(r"(token|secret|password|passwd|api_key|authorization|access_key)", re.I)
_SECRET_IN_TEXT = re.compile(r"(?P<key>access|secret|password|token)=[^&;\s]*", re.I)
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Never log secrets: mask values under secret-looking keys and ``secret=…`` inside strings."""
    for key, value in list(event_dict.items()):
        if _SECRET_KEYS.search(key) and value:
            event_dict[key] = "***"
        elif isinstance(value, str) and "=" in value:
            event_dict[key] = _SECRET_IN_TEXT.sub(lambda m: f"{m.group('key')}=***", value)
    return event_dict


def configure_logging(
    fmt: Literal["console", "json"] = "console",
    level: Literal["debug", "info", "warning", "error"] = "info",
) -> None:
    """Route structlog and stdlib logging (ib_async, uvicorn) through one renderer on stderr."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        # Below the level, an event is dropped before any processor runs (timestamps, redaction): a debug
        # line on a hot path (every flush, every order event) then costs one level check, not a render.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_mats_handler", False):
            root.removeHandler(old)
    handler._mats_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(_LEVELS[level])
    if level != "debug":
        # ib_async logs every order status and fill at INFO as a long repr; MATS logs its own, shorter.
        logging.getLogger("ib_async").setLevel(logging.WARNING)


def get_logger(name: str, **context: Any) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger.bind(**context) if context else logger
