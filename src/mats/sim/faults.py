"""Faults on command: everything real IB does to its API clients that MATS must survive.

Each fault is a method here (`sim.control.faults.…`) and a route on the admin endpoint (`admin.py`).
Durations are virtual seconds on the simulator's clock, so a paused test clock drives them too.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from . import outbound as out

if TYPE_CHECKING:
    from .server import SimServer

log = logging.getLogger("mats.sim.faults")

#: End markers a fault can drop or delay, by the name of ib_async's wrapper callback.
END_MARKERS = frozenset(
    {
        "execDetailsEnd",
        "openOrderEnd",
        "positionEnd",
        "accountDownloadEnd",
        "completedOrdersEnd",
        "contractDetailsEnd",
        "accountUpdateMultiEnd",
        "positionMultiEnd",
        "accountSummaryEnd",
        "tickSnapshotEnd",
    }
)

FARMS_BROKEN = (
    (2103, "Market data farm connection is broken:usfarm"),
    (2105, "HMDS data farm connection is broken:ushmds"),
    (2157, "Sec-def data farm connection is broken:secdefnj"),
)
FARMS_OK = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


@dataclass(slots=True)
class MarkerFault:
    """Drop (delay None) or delay an end marker, `times` more times (None: until cleared)."""

    delay: float | None
    times: int | None


class Faults:
    def __init__(self, server: SimServer) -> None:
        self._server = server
        self.markers: dict[str, MarkerFault] = {}
        self.commission_delay = 0.0
        self.duplicates = 0
        self.linger = 0.0
        self.down = False
        self.resetting = False
        self._up: asyncio.Event | None = None
        self._task: asyncio.Future[None] | None = None

    def state(self) -> dict[str, object]:
        """What is switched on now (the admin endpoint's GET /faults)."""
        return {
            "down": self.down,
            "resetting": self.resetting,
            "feeds_paused": self._server.feeds.paused,
            "end_markers": {k: {"delay": v.delay, "times": v.times} for k, v in self.markers.items()},
            "commission_delay": self.commission_delay,
            "duplicates": self.duplicates,
            "linger": self.linger,
            "pacing": self._server.pacing,
        }

    # ------------------------------------------------------------ gateway

    async def restart(self, down: float = 60.0) -> None:
        """Gateway restart: every socket closes, the port refuses for `down` s, then listens again.

        Orders keep working (and filling) meanwhile; executions, ids and positions survive. Returns
        once the Gateway is down; `await wait_up()` for its return, or `await up()` to end it early.
        """
        if self.down:
            return
        self.down = True
        self._up = asyncio.Event()
        log.warning("fault.restart down=%ss", down)
        await self._server.go_down()

        def back() -> None:
            self._task = asyncio.ensure_future(self.up())

        self._server.clock.call_later(down, back)

    async def up(self) -> None:
        """End a restart now (or when its downtime is over)."""
        if not self.down:
            return
        if self._server.running:  # a restart outlived by `stop()` must not listen again
            await self._server.come_up()
        self.down = False
        if self._up is not None:
            self._up.set()
        log.warning("fault.restart_over port=%s", self._server.port)

    async def wait_up(self) -> None:
        if self.down and self._up is not None:
            await self._up.wait()

    def reset(self, duration: float = 30.0, data_lost: bool = False, bar_updates_lost: bool = False) -> None:
        """Nightly server reset: 1100 and farms broken; after `duration`, 1102 (kept) or 1101 (lost).

        Sockets stay open and orders keep working, but their events (fills, statuses, positions) are
        held until the reset ends, as IB delays executions. With `data_lost` every market-data and bar
        stream is silently dropped: clients must re-request them. With `bar_updates_lost`, keepUpToDate
        requests also die at once with 10182 (ib_insync#533: "keepUpToDate stops at midnight").
        """
        server = self._server
        self.resetting = True
        server.feeds.paused = True
        server.hold_order_events()
        log.warning("fault.reset duration=%ss data_lost=%s", duration, data_lost)
        server.broadcast(out.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost."))
        for code, text in FARMS_BROKEN:
            server.broadcast(out.error(-1, code, text))
        if bar_updates_lost:
            server.feeds.farm_lost()

        def restored() -> None:
            self.resetting = False
            server.feeds.paused = False
            if data_lost:
                server.feeds.drop_all()
                server.broadcast(
                    out.error(
                        -1,
                        1101,
                        "Connectivity between IB and Trader Workstation has been restored - data lost.",
                    )
                )
            else:
                server.broadcast(
                    out.error(
                        -1,
                        1102,
                        "Connectivity between IB and Trader Workstation has been restored - data maintained.",
                    )
                )
            for code, text in FARMS_OK:
                server.broadcast(out.error(-1, code, text))
            server.release_order_events()

        server.clock.call_later(duration, restored)

    def farm_flap(self, duration: float = 5.0) -> None:
        """Market-data and HMDS farms drop (2103/2105), then return (2104/2106); keepUpToDate dies (10182)."""
        server = self._server
        server.feeds.paused = True
        for code, text in FARMS_BROKEN[:2]:
            server.broadcast(out.error(-1, code, text))
        server.feeds.farm_lost()

        def back() -> None:
            server.feeds.paused = self.resetting
            for code, text in FARMS_OK[:2]:
                server.broadcast(out.error(-1, code, text))

        server.clock.call_later(duration, back)

    # ------------------------------------------------------------ messages

    def drop_end_marker(self, name: str, times: int | None = None) -> None:
        """Never send this end marker (as TWS 10.30 with execDetailsEnd), `times` times or until cleared."""
        self._marker(name, MarkerFault(None, times))

    def delay_end_marker(self, name: str, seconds: float, times: int | None = None) -> None:
        self._marker(name, MarkerFault(seconds, times))

    def _marker(self, name: str, fault: MarkerFault) -> None:
        if name not in END_MARKERS:
            raise ValueError(f"unknown end marker {name!r}; known: {sorted(END_MARKERS)}")
        self.markers[name] = fault

    def clear(self) -> None:
        """Switch every message fault off (end markers, commission delay, duplicates, linger)."""
        self.markers.clear()
        self.commission_delay = 0.0
        self.duplicates = 0
        self.linger = 0.0

    def take_marker(self, name: str) -> MarkerFault | None:
        """The fault to apply to this marker now, counting it down."""
        fault = self.markers.get(name)
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.markers[name]
        return fault

    def delay_commission_reports(self, seconds: float) -> None:
        """Commission reports arrive this long after their execution (0: at once again)."""
        if seconds < 0:
            raise ValueError(f"delay must not be negative, got {seconds}")
        self.commission_delay = seconds

    def duplicate_executions(self, count: int = 1) -> None:
        """The next `count` executions are delivered twice (same execId), as TWS sometimes does."""
        self.duplicates += count

    def correct_execution(
        self, exec_id: str, price: float | None = None, quantity: float | None = None
    ) -> str:
        """Bust-and-correct: execId `….01` comes again as `….02` with a new price and/or quantity."""
        return self._server.exchange.correct_execution(
            exec_id, price, None if quantity is None else Decimal(str(quantity))
        )

    # ------------------------------------------------------------ clients

    def linger_client_ids(self, seconds: float) -> None:
        """After a disconnect, the clientId stays taken this long (326 on a fast reconnect)."""
        if seconds < 0:
            raise ValueError(f"linger must not be negative, got {seconds}")
        self.linger = seconds

    def set_pacing(self, on: bool) -> None:
        """IB's pacing: 50 msg/s (error 100), historical limits (162), real-time bars (420)."""
        self._server.pacing = on

    # ------------------------------------------------------------ account

    def split(self, symbol: str, ratio: float) -> None:
        """A stock split: position × ratio, average cost and price ÷ ratio, with no execution."""
        server = self._server
        spec = server.contracts.by_symbol(symbol)
        server.exchange.adjust_position(spec.con_id, ratio=ratio)

    def set_position(self, symbol: str, quantity: float, avg_cost: float | None = None) -> None:
        """Change a position with no execution (a transfer, an assignment, a broker correction)."""
        spec = self._server.contracts.by_symbol(symbol)
        self._server.exchange.adjust_position(spec.con_id, quantity=Decimal(str(quantity)), avg_cost=avg_cost)
