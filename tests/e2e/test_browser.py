"""The UI in a real browser (Debian's Chromium via playwright-core) against a real `mats demo`.

Two scripts in web/e2e/ drive it: run.mjs visits every page and exercises every action (start/stop,
cancel, reconcile and book, a backtest with its chart, a setting that persists, the kill switch), failing
on any console error; then trader.mjs checks what a trader would (a blotter fill equals the simulator's
execution; a trade typed into TWS shows as exactly that quantity in Discretionary). Screenshots of
each page land in web/test-results/.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


async def _node(script: str, env: dict[str, str], timeout: float) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "node", f"e2e/{script}", cwd=WEB, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return int(proc.returncode or 0), out.decode()


@pytest.mark.timeout(400)
async def test_the_ui_against_a_live_demo(tmp_path: Path) -> None:
    assert (WEB / "dist" / "index.html").exists(), "the UI is built by `make setup`"
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mats.cli", "demo", "--data-dir", str(tmp_path / "demo"),
        "--web-port", "0", "--sim-admin-port", "0",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = await asyncio.wait_for(demo.stdout.readline(), 90)
            assert line, f"mats demo exited early: {banner}"
            banner += line.decode()
        url = re.search(r"running: (http://\S+?)/?\s", banner)
        token = re.search(r"API token: (\S+)", banner)
        admin = re.search(r"admin (http://\S+)", banner)
        assert url and token and admin, banner
        env = {
            "MATS_URL": url.group(1),
            "MATS_TOKEN": token.group(1),
            "MATS_SIM_ADMIN": admin.group(1),
            "MATS_E2E_MUTATE": "1",
            # A loaded CI machine: a backtest's worker process alone takes seconds to start.
            "MATS_E2E_TIMEOUT": "60000",
        }
        code, out = await _node("run.mjs", env, 200)  # it starts by clearing web/test-results/
        assert code == 0, out
        assert "FAIL " not in out and "steps passed" in out
        code, out = await _node("trader.mjs", env, 150)
        assert code == 0, out
    finally:
        demo.send_signal(signal.SIGINT)
        await asyncio.wait_for(demo.wait(), 30)
    assert demo.returncode == 0
