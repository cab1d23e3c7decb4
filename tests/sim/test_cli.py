"""`mats sim` flags and its run loop, as the lead wires them into `mats`' own CLI."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from mats.sim import SimServer, cli
from mats.sim.cli import add_arguments, config_from_args


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_are_what_mats_and_a_real_gateway_expect() -> None:
    config = config_from_args(parse())
    assert (config.host, config.port, config.account) == ("127.0.0.1", 7497, "DU0000001")
    assert (config.seed, config.master_client_id, config.max_clients, config.speed) == (1, 99, 32, 1.0)


def test_flags_reach_the_config_and_nonsense_is_refused() -> None:
    config = config_from_args(parse("--port", "4002", "--master-client-id", "0", "--max-clients", "5"))
    assert (config.port, config.master_client_id, config.max_clients) == (4002, 0, 5)
    with pytest.raises(ValueError, match="max_clients must be at least 1"):
        config_from_args(parse("--max-clients", "0"))
    part2 = config_from_args(
        parse("--speed", "60", "--start", "2024-01-02T14:30:00+00:00", "--pacing", "--admin-port", "0")
    )
    assert (part2.speed, part2.start, part2.pacing, part2.admin_port) == (
        60.0,
        "2024-01-02T14:30:00+00:00",
        True,
        0,
    )
    with pytest.raises(ValueError, match="start must be an ISO date/time"):
        config_from_args(parse("--start", "yesterday"))


async def test_run_serves_until_cancelled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started = asyncio.Event()

    class SignallingServer(SimServer):
        async def start(self) -> None:
            await super().start()
            started.set()

    monkeypatch.setattr(cli, "SimServer", SignallingServer)
    task = asyncio.create_task(cli.run(parse("--port", "0", "--price-interval", "0")))
    await asyncio.wait_for(started.wait(), 2)

    assert "mats sim listening on 127.0.0.1:" in capsys.readouterr().out
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
