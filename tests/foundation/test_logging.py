"""The engine's log: levels honoured, secrets masked. Each run is a fresh process (the setup is global)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging
from mats.logging import configure_logging, get_logger
configure_logging("json", {level!r})
log = get_logger("mats.test", strategy_id="s1")
log.debug("event.debug")
log.info("event.info")
log.warning("event.warning", api_token="abc123", uri="s3://host:b?access=AK&secret=SK")
logging.getLogger("ib_async.wrapper").info("ib_async chatter")
"""


def run_with_level(level: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(level=level)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_events_below_the_level_are_dropped_and_the_rest_keep_their_context() -> None:
    out = run_with_level("warning")
    assert "event.debug" not in out and "event.info" not in out
    assert '"event": "event.warning"' in out and '"strategy_id": "s1"' in out
    assert '"level": "warning"' in out


def test_info_level_logs_info_but_not_debug_nor_ib_async_chatter() -> None:
    out = run_with_level("info")
    assert "event.info" in out and "event.warning" in out
    assert "event.debug" not in out and "ib_async chatter" not in out


def test_secrets_are_masked_in_what_is_logged() -> None:
    out = run_with_level("debug")
    assert "event.debug" in out
    assert "abc123" not in out and "SK" not in out and "AK" not in out
    assert '"api_token": "***"' in out
