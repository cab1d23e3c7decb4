"""Schemathesis against the OpenAPI schema of a running `mats demo`: no 5xx, responses match the schema,
and the unhandled-exception counter stays at 0. The kill switch is left out (it would stop the demo)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import urllib.request
from pathlib import Path

import pytest

ST = Path(sys.executable).with_name("st")


@pytest.mark.timeout(300)
async def test_fuzzing_the_schema_finds_no_server_error(tmp_path: Path) -> None:
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mats.cli", "demo", "--data-dir", str(tmp_path / "demo"), "--web-port", "0",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = await asyncio.wait_for(demo.stdout.readline(), 90)
            assert line, banner
            banner += line.decode()
        url = re.search(r"running: (http://\S+?)/?\s", banner)
        token = re.search(r"API token: (\S+)", banner)
        assert url and token
        fuzz = await asyncio.create_subprocess_exec(
            str(ST), "run", f"{url.group(1)}/schema/openapi.json",
            "-H", f"Authorization: Bearer {token.group(1)}",
            "-c", "not_a_server_error,response_schema_conformance",
            "--max-examples", "10", "--exclude-path-regex", "kill-switch", "--seed", "1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        )  # fmt: skip
        out, _ = await asyncio.wait_for(fuzz.communicate(), 240)
        report = out.decode()
        with urllib.request.urlopen(f"{url.group(1)}/api/health") as response:  # noqa: ASYNC210 - one call
            health = json.loads(response.read())
    finally:
        demo.send_signal(signal.SIGINT)
        await asyncio.wait_for(demo.wait(), 30)
    assert fuzz.returncode == 0, report[-4000:]
    assert "generated" in report  # it really ran cases
    assert health["unhandled_exceptions"] == 0
