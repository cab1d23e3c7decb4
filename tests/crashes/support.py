"""The crash loop's moving parts: one engine life (a `mats serve` subprocess), driving it with bars until
it dies, and the invariants that must hold every time it comes back.

The engine runs as a real process so that SIGKILL leaves exactly what a power cut leaves (no ``finally``,
no flush at exit). tests/live/test_crash_recovery.py uses the same start-up and API helpers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import websockets

from mats.sim import SimServer
from mats.store.crashpoints import ENV_VAR

ACCOUNT = "DU0000001"

# The pulse trades AAPL at the market every bar (a fill per bar); the dip buyer keeps a limit bid resting
# below MSFT (prices never move here), so there is always an open order to rebuild after a crash.
PULSE_SETTINGS = """
data_dir = "{data}"
[ib]
port = {port}
connect_timeout = 3.0
[[strategies]]
strategy_id = "pulse_aapl"
cls = "strategies.pulse:Pulse"
symbols = ["AAPL"]
params = {{ qty = 5, every = 1 }}
bar_size = "5s"
autostart = true
"""
SETTINGS = (
    PULSE_SETTINGS
    + """[[strategies]]
strategy_id = "dip_msft"
cls = "strategies.dip_buyer:DipBuyer"
symbols = ["MSFT"]
params = {{ qty = 3, discount = 0.01, patience = 2 }}
bar_size = "5s"
autostart = true
"""
)


async def start_engine(
    config: Path, crash_at: str | None, *, log: Path | None = None
) -> tuple[asyncio.subprocess.Process, str, str]:
    """``mats --config … serve`` as a subprocess, once its banner says it is ready: (process, url, token).
    Its log goes to ``log`` (appended: one file tells a whole crash loop's story), else nowhere."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    if crash_at:
        env[ENV_VAR] = crash_at
    stderr = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mats.cli", "--config", str(config), "serve", "--web-port", "0",
            cwd=config.parent, env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr,
        )  # fmt: skip
    finally:
        os.close(stderr)
    assert proc.stdout is not None
    banner = ""
    while "Ctrl-C" not in banner:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, f"the engine exited during start-up: {banner}" + (f" (log: {log})" if log else "")
        banner += line.decode()
    url = re.search(r"running: (http://\S+?)/?\s", banner)
    assert url
    token = (config.parent / "data" / "api_token").read_text().strip()
    return proc, url.group(1), token


async def api(url: str, token: str, path: str, method: str = "GET") -> Any:
    """One authenticated JSON call to the engine's API, off the loop."""

    def call() -> Any:
        request = urllib.request.Request(
            f"{url}{path}", method=method, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    return await asyncio.to_thread(call)


@dataclass
class EngineLife:
    """One run of ``mats serve``, from its banner to its death."""

    process: asyncio.subprocess.Process
    url: str
    token: str

    @classmethod
    async def start(cls, config: Path, log: Path | None = None) -> EngineLife:
        process, url, token = await start_engine(config, None, log=log)
        return cls(process, url, token)

    async def get(self, path: str) -> Any:
        return await api(self.url, self.token, path)

    async def stored_fills(self) -> dict[str, Any]:
        """``{account}/fills`` as ArcticDB holds it (no symbol yet if nothing was flushed before a kill)."""
        try:
            return dict(await self.get(f"/api/arctic/libraries/{ACCOUNT}/symbols/fills?tail=5000"))
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            return {"rows": [], "total_rows": 0}

    async def trade(self, sim: SimServer, *, bars: int) -> None:
        """Feed one 5-second bar at a time and wait until the engine has acted on it (the pulse's fill of
        that bar: the simulator's clock stands still in between), until it dies or ``bars`` bars went by."""
        ws_url = self.url.replace("http://", "ws://") + "/api/stream"
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with websockets.connect(ws_url, additional_headers=headers) as ws:
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello", hello
                for _ in range(bars):
                    if self.process.returncode is not None:
                        return
                    sim.control.advance(5)
                    bar_time = sim.control.now()
                    try:
                        async with asyncio.timeout(15):
                            while not _filled_at(json.loads(await ws.recv()), bar_time):
                                pass
                    except TimeoutError:
                        raise AssertionError(f"the engine did not trade on the bar of {bar_time}") from None
        except (websockets.ConnectionClosed, ConnectionError):
            return  # the engine is gone: what we came for
        except websockets.InvalidMessage:  # cut off inside the handshake: by a kill, and only by a kill
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                raise AssertionError("the engine answered /api/stream with a broken handshake") from None

    async def killed(self, sim: SimServer, context: str) -> int:
        """Wait for the process to die and for the simulator to drop its sockets (else: 326)."""
        clients = sim.control.connected_client_ids()
        try:
            code = await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            raise AssertionError(f"{context}: the engine is still running") from None
        for client_id in clients:
            await asyncio.wait_for(sim.control.wait_disconnected(client_id), 10)
        return code

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(2)
            await asyncio.wait_for(self.process.wait(), 30)


async def assert_rebuilt(life: EngineLife, sim: SimServer, context: str) -> None:
    """After a restart: every simulator execution is in the engine's fills and in ArcticDB exactly once with
    its commission, positions per contract equal the simulator's, open orders equal the simulator's, equity
    is IB's, and no orderRef reached the simulator twice."""
    fills = await life.get("/api/fills?limit=100000")
    portfolio = await life.get("/api/portfolio")
    open_orders = await life.get("/api/orders?open_only=true")
    stored = await life.stored_fills()

    executions = {f.execution.exec_id: f for f in sim.control.executions()}
    executed = Counter(list(executions))
    recorded = Counter(f["exec_id"] for f in fills)
    assert recorded == executed, f"{context}: fills {_diff(recorded, executed)}"
    for fill in fills:
        sim_fill = executions[fill["exec_id"]]
        assert fill["commission"] is not None, f"{context}: {fill['exec_id']} has no commission"
        assert abs(fill["commission"] - sim_fill.commission.commission) < 1e-9, context
        execution = sim_fill.execution
        assert (abs(fill["qty"]), fill["price"]) == (float(execution.shares), execution.price), context

    assert stored["total_rows"] is not None, f"{context}: more rows in ArcticDB than one read shows"
    stored_fills = Counter(r["exec_id"] for r in stored["rows"] if r["kind"] == "fill")
    assert stored_fills == executed, f"{context}: ArcticDB fills {_diff(stored_fills, executed)}"
    stored_commission = {r["exec_id"]: r["commission"] for r in stored["rows"] if r["kind"] == "commission"}
    for exec_id, sim_fill in executions.items():
        assert stored_commission.get(exec_id) == sim_fill.commission.commission, (
            f"{context}: ArcticDB commission of {exec_id}: {stored_commission.get(exec_id)}"
        )

    held: Counter[int] = Counter()
    for position in portfolio["positions"]:
        held[position["con_id"]] += position["qty"]
    at_ib = {p.con_id: float(p.qty) for p in sim.control.positions().values()}
    assert {c: q for c, q in held.items() if q} == at_ib, f"{context}: positions {dict(held)} vs IB {at_ib}"
    for position in portfolio["positions"]:
        assert position["strategy_id"] != "Discretionary", f"{context}: a fill was misattributed: {position}"
    breaks = [row for row in portfolio["reconciliation"] if row["break_qty"]]
    assert not breaks, f"{context}: reconciliation breaks {breaks}"
    assert abs(portfolio["total_equity"] - sim.control.net_liquidation()) < 0.01, (
        f"{context}: equity {portfolio['total_equity']} vs IB {sim.control.net_liquidation()}"
    )

    sent = Counter(v.ticket.order_ref for v in sim.control.orders())
    assert all(n == 1 for n in sent.values()), f"{context}: orders sent twice: {sent.most_common(3)}"
    engine_open = {o["order_ref"] for o in open_orders}
    sim_open = {v.ticket.order_ref for v in sim.control.open_orders()}
    assert engine_open == sim_open, (  # an order lost before it left the process is closed, not open
        f"{context}: open orders {sorted(engine_open)} vs IB {sorted(sim_open)}"
    )


def _filled_at(message: dict[str, Any], bar_time: datetime) -> bool:
    """A stream message reporting a fill executed at ``bar_time`` or later (commissions share the type)."""
    fill = message.get("data", {}).get("fill") if message.get("type") == "fill" else None
    return fill is not None and datetime.fromisoformat(fill["exec_time"]) >= bar_time


def _diff(recorded: Counter[str], executed: Counter[str]) -> str:
    lost = sorted(set(executed) - set(recorded))
    doubled = sorted(e for e, n in recorded.items() if n > 1)
    unknown = sorted(set(recorded) - set(executed))
    return f"lost {lost}, doubled {doubled}, never executed {unknown} (of {len(executed)})"
