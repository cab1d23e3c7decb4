"""The ``mats`` command: bad settings stop it before anything starts; the engine shell stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from mats.store.arctic import ArcticStore
from mats.store.lease import claim, new_lease

MATS = [sys.executable, "-m", "mats.cli"]


async def run_mats(*args: str, cwd: Path, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *MATS,
        *args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_help_lists_every_command(tmp_path: Path) -> None:
    proc = await run_mats("--help", cwd=tmp_path)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0
    for command in ("demo", "serve", "sim", "backtest", "data"):
        assert command in out.decode()


async def test_bad_settings_exit_non_zero_naming_the_key_and_start_nothing(tmp_path: Path) -> None:
    (tmp_path / "mats.toml").write_text('data_dir = "state"\n[ib]\nport = "x"\n')
    proc = await run_mats("serve", cwd=tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    assert "settings error" in err.decode() and "ib.port" in err.decode()
    assert not (tmp_path / "state").exists()  # nothing started, nothing written


async def test_engine_shell_starts_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    proc = await run_mats(
        "--log-format", "json", "demo", "--data-dir", str(tmp_path / "demo"), "--web-port", "0", cwd=tmp_path
    )
    assert proc.stderr is not None and proc.stdout is not None
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), timeout=60)
        assert line, "mats exited before it was ready"
        if b"engine.ready" in line:
            break
    banner = (await asyncio.wait_for(proc.stdout.readline(), timeout=10)).decode()
    assert banner.startswith("MATS is running: http://127.0.0.1:")
    token_line = (await asyncio.wait_for(proc.stdout.readline(), timeout=10)).decode()
    token = token_line.split(":", 1)[1].strip()
    assert (tmp_path / "demo" / "api_token").read_text().strip() == token
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0
    assert b"engine.stopped" in err and b"signal SIGINT" in err
    assert token.encode() not in err  # the token is shown to the person, never logged


async def test_serve_on_a_namespace_another_engine_holds_says_who_in_one_line(tmp_path: Path) -> None:
    uri = f"lmdb://{tmp_path / 'shared'}"
    async with ArcticStore(uri, "acct1") as store:
        await claim(store, new_lease("DU0000001", "/srv/other"))  # held by this (live) test process
    (tmp_path / "mats.toml").write_text(
        f'data_dir = "{tmp_path / "data"}"\narctic_uri = "{uri}"\n[storage]\nnamespace = "acct1"\n'
    )
    proc = await run_mats("--config", "mats.toml", "serve", "--web-port", "0", cwd=tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    refusal = [line for line in err.decode().splitlines() if line.startswith("mats: cannot start:")]
    assert len(refusal) == 1 and "/srv/other" in refusal[0], err.decode()[-2000:]
    assert "Traceback" not in err.decode()
