"""Suite-wide guard: a test fails if ib_async could not decode something it was sent.

ib_async logs decoder failures and drops the message, so a wire-format bug would otherwise pass silently.
Tests that expect ib_async's client to log errors (refused connections) mark themselves
`@pytest.mark.ib_client_errors_expected`; decoder errors are never expected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import pytest

pytest_plugins = ["pytester", "moto_s3"]

#: Loggers whose ERROR records mean "a message was not understood".
DECODER_LOGGERS = ("ib_async.Decoder", "ib_async.decoder")
CLIENT_LOGGER = "ib_async.client"


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def decoder_failures(records: Iterable[logging.LogRecord], client_errors_expected: bool = False) -> list[str]:
    """The records that mean ib_async failed to decode (or, unless expected, its client logged an error)."""
    failures = []
    for record in records:
        message = record.getMessage()
        from_decoder = record.name in DECODER_LOGGERS or "Error handling fields" in message
        from_decoder |= "No order found" in message  # an orderStatus for an order never announced
        from_protocol = record.name == "asyncio" and "data_received" in message
        from_client = record.name == CLIENT_LOGGER and not client_errors_expected
        if record.levelno >= logging.ERROR and (from_decoder or from_protocol or from_client):
            failures.append(f"{record.name}: {message[:500]}")
    return failures


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ib_client_errors_expected: ib_async.client may log errors (refused connections)"
    )


@pytest.fixture(autouse=True)
def ib_decoder_guard(request: pytest.FixtureRequest) -> Iterator[_Collector]:
    """Fail the test on any ib_async decoder error logged while it ran."""
    collector = _Collector()
    watched = [logging.getLogger("ib_async"), logging.getLogger("asyncio")]
    for logger in watched:
        logger.addHandler(collector)
    try:
        yield collector
    finally:
        for logger in watched:
            logger.removeHandler(collector)
    expected = request.node.get_closest_marker("ib_client_errors_expected") is not None
    failures = decoder_failures(collector.records, client_errors_expected=expected)
    if failures:
        pytest.fail("ib_async logged decoder errors:\n" + "\n".join(failures), pytrace=False)
