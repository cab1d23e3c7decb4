"""A loopback admin endpoint: plain HTTP/1.1 + JSON on asyncio, no dependencies.

    curl -s localhost:7496/status
    curl -s -XPOST localhost:7496/faults/restart -d '{"down": 30}'

`GET /status`, `GET /faults`, `GET /executions` and `GET /positions` read; `POST /faults/<name>` and
`POST /control/<name>` call the method of
that name on `sim.control.faults` / `sim.control` with the JSON body as keyword arguments. It stays up
while the Gateway itself is "restarting", so a restart can be ended from here too.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import SimServer

log = logging.getLogger("mats.sim.admin")

MAX_BODY = 1 << 20
FAULTS = frozenset(
    {
        "restart",
        "up",
        "reset",
        "farm_flap",
        "drop_end_marker",
        "delay_end_marker",
        "clear",
        "delay_commission_reports",
        "duplicate_executions",
        "correct_execution",
        "linger_client_ids",
        "set_pacing",
        "split",
        "set_position",
    }
)
CONTROLS = frozenset(
    {
        "set_price",
        "step_prices",
        "advance",
        "set_speed",
        "pause",
        "resume",
        "set_fill_slices",
        "set_fill_latency",
        "reject_next_order",
        "place_manual_order",
        "end_of_day",
        "global_cancel",
    }
)


class AdminServer:
    def __init__(self, sim: SimServer, host: str, port: int) -> None:
        self._sim = sim
        self._host = host if host in ("127.0.0.1", "::1", "localhost") else "127.0.0.1"
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("sim.admin_listening host=%s port=%s", self._host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode("latin-1").strip()
            headers: dict[str, str] = {}
            while True:
                line = (await reader.readline()).decode("latin-1").strip()
                if not line:
                    break
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if length > MAX_BODY:
                raise ValueError("body too large")
            body = await reader.readexactly(length) if length else b""
            method, path, *_ = [*request_line.split(" "), "", ""]
            status, answer = await self._dispatch(method.upper(), path, body)
        except Exception as e:  # a bad request must never take the simulator down
            status, answer = 400, {"error": str(e)}
        payload = json.dumps(answer, default=str).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + payload)
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _dispatch(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        sim = self._sim
        path = path.split("?")[0].rstrip("/")
        if method == "GET" and path == "/status":
            return 200, {
                "port": sim.port,
                "now": sim.clock.now().isoformat(),
                "clients": sim.control.connected_client_ids(),
                "prices": {s: sim.control.price(s) for s in sim.contracts.symbols()},
                "faults": sim.faults.state(),
            }
        if method == "GET" and path == "/faults":
            return 200, sim.faults.state()
        if method == "GET" and path == "/executions":  # what a test compares MATS's books against
            return 200, [
                {
                    "exec_id": f.execution.exec_id,
                    "order_ref": f.execution.order_ref,
                    "client_id": f.execution.client_id,
                    "symbol": f.symbol,
                    "side": f.execution.side,
                    "shares": float(f.execution.shares),
                    "price": f.execution.price,
                    "commission": f.commission.commission,
                }
                for f in sim.control.executions()
            ]
        if method == "GET" and path == "/positions":
            return 200, {symbol: float(p.qty) for symbol, p in sim.control.positions().items()}
        if method != "POST":
            return 404, {"error": f"no route {method} {path}"}
        kind, _, name = path.strip("/").partition("/")
        if kind == "faults" and name in FAULTS:
            target: Any = sim.faults
        elif kind == "control" and name in CONTROLS:
            target = sim.control
        else:
            return 404, {
                "error": f"no route {method} {path}",
                "faults": sorted(FAULTS),
                "control": sorted(CONTROLS),
            }
        arguments = json.loads(body or b"{}")
        if not isinstance(arguments, dict):
            raise ValueError("the body must be a JSON object of keyword arguments")
        result = getattr(target, name)(**arguments)
        if inspect.isawaitable(result):
            result = await result
        log.info("sim.admin %s %s %s", method, path, arguments)
        return 200, {"ok": True, "result": _plain(result)}


def _plain(value: Any) -> Any:
    """JSON-friendly form of a control result (OrderView and the like become their repr)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
