"""MatsApiError: the one exception a notebook catches, carrying the server's status and its message."""

from __future__ import annotations

from typing import Any


class MatsApiError(Exception):
    """A request the API refused: ``status`` is the HTTP status (or a WebSocket close code), ``message``
    the server's own words, which name the field that was wrong."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.body = body


class BacktestFailed(Exception):
    """A backtest the server accepted but whose run failed (its worker's error)."""

    def __init__(self, run_id: str, error: str) -> None:
        super().__init__(f"backtest {run_id} failed: {error}")
        self.run_id = run_id
        self.error = error


def error_message(body: Any, fallback: str) -> str:
    """Litestar's error body is ``{"status_code", "detail", "extra"}``; ``extra`` lists the bad fields."""
    if not isinstance(body, dict):
        return fallback
    message = str(body.get("detail") or fallback)
    extra = body.get("extra")
    if isinstance(extra, list):
        parts = [_describe(item) for item in extra]
        message = "; ".join([message, *[p for p in parts if p]])
    elif isinstance(extra, dict) and extra:
        message = f"{message}; {extra}"
    return message


def _describe(item: Any) -> str:
    if isinstance(item, dict):
        key, text = item.get("key"), item.get("message")
        if key and text:
            return f"{key}: {text}"
        return str(text or item)
    return str(item)
