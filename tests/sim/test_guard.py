"""The suite-wide decoder guard (tests/conftest.py) fails a test when ib_async cannot decode a frame."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import pytest

CONFTEST = Path(__file__).parents[1] / "conftest.py"

MALFORMED_FRAME_TEST = """
import struct
from ib_async import IB


def test_feeds_a_malformed_open_order():
    ib = IB()
    ib.client._serverVersion = 178
    ib.client.decoder.serverVersion = 178
    ib.client._apiReady = True
    payload = "\\0".join(["5", "1", "265598", "AAPL", "STK"]) + "\\0"  # an openOrder cut short
    ib.client._onSocketHasData(struct.pack(">I", len(payload)) + payload.encode())


def test_healthy_neighbour_passes():
    assert True
"""


def test_guard_fails_the_test_that_fed_ib_async_a_malformed_frame(
    pytester: pytest.Pytester, ib_decoder_guard: Any
) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_malformed=MALFORMED_FRAME_TEST)

    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
    )

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ib_async logged decoder errors*", "*Error handling fields*"])
    ib_decoder_guard.records.clear()  # the inner run's decoder error was the point of this test


def test_guard_ignores_expected_client_errors_but_never_decoder_errors() -> None:
    spec = importlib.util.spec_from_file_location("root_conftest", CONFTEST)
    assert spec is not None and spec.loader is not None
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    decoder_failures = root_conftest.decoder_failures

    def record(name: str, message: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, None)

    client = record("ib_async.client", "Peer closed connection. clientId 7 already in use?")
    decoder = record("ib_async.Decoder", "Error handling fields: ['5', '1']")
    assert decoder_failures([client], client_errors_expected=True) == []
    assert decoder_failures([client]) != []
    assert decoder_failures([client, decoder], client_errors_expected=True) == [
        "ib_async.Decoder: Error handling fields: ['5', '1']"
    ]
