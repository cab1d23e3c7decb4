"""DailyLossGuard: each strategy's PnL for the day against its daily loss limits.

At −``daily_loss_limit`` a strategy becomes reducing-only (``RiskState.reducing_only``: the pre-trade
checks refuse orders that would increase its position); at −``daily_loss_halt`` it is halted through the
per-strategy kill switch (its open orders cancelled through their owning clients, the strategy stopped).
Both steps hold until the daily reset (``daily_pnl_reset``); a halted strategy also stays killed until an
operator releases its kill switch. The PnL is realized + unrealized less commissions in the base
currency, measured from its value at the last reset (or when the engine first saw the strategy today).

It checks after fills and position changes (bus events, at most once per ``min_gap``) and every
``interval`` seconds, since unrealized PnL moves with prices between fills.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, time
from pathlib import Path

import anyio
import msgspec
import structlog

from mats.accounting import DailyPnL, last_reset
from mats.actors.bus import EventBus, Subscription, SubscriptionLagged
from mats.messages import AlertRaised
from mats.risk import RiskState

log = structlog.get_logger("mats.daily_loss")


class _SavedDays(msgspec.Struct, frozen=True):
    boundary: datetime  # the reset the day began at
    start: dict[str, float]  # strategy → its PnL at the start of the day


Halt = Callable[[str, str], Awaitable[object]]


class DailyLossGuard:
    def __init__(
        self,
        risk: RiskState,
        strategy_pnl: Callable[[], Mapping[str, float]],
        halt: Halt,
        *,
        bus: EventBus | None = None,
        reset: str = "17:00",
        tz: str = "America/New_York",
        interval: float = 1.0,
        min_gap: float = 0.1,
        state_file: Path | None = None,
    ) -> None:
        self.risk = risk
        self._strategy_pnl = strategy_pnl
        self._halt = halt
        self.bus = bus
        self.reset = time.fromisoformat(reset)
        self.tz = tz
        self.interval = interval
        self.min_gap = min_gap
        self.daily: dict[str, float] = {}  # strategy → its PnL today, as of the last check
        self.halted: set[str] = set()  # halted today (halted once, not at every check)
        self._days: dict[str, DailyPnL] = {}
        self._boundary: datetime | None = None
        # Where each strategy's day began, so a restart mid-day keeps counting today's loss.
        self.state_file = state_file
        self._saved: dict[str, float] = {}

    async def run(self) -> None:
        """Check now, then after each fill/commission event or every ``interval`` seconds."""
        while True:
            events = self.bus.subscribe(types={"fill", "position"}) if self.bus is not None else None
            try:
                while True:
                    await self.check()
                    await self._next_wake(events)
            except SubscriptionLagged:
                continue  # resubscribe; the next check reads the books afresh anyway

    async def _next_wake(self, events: Subscription | None) -> None:
        if events is None:
            await asyncio.sleep(self.interval)
            return
        try:
            await asyncio.wait_for(events.get(), self.interval)
        except TimeoutError:
            return
        # A burst of fills costs one check per ``min_gap``, not one each: a check walks every strategy.
        await asyncio.sleep(self.min_gap)
        while events.get_nowait() is not None:  # one check covers every event queued meanwhile
            pass

    async def check(self, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        boundary = last_reset(at, self.reset, self.tz)
        first_check = self._boundary is None
        if self._boundary is not None and boundary > self._boundary:
            self._new_day()
        self._boundary = boundary
        resumed = await self._load(boundary) if first_check else {}
        for strategy_id, pnl in self._strategy_pnl().items():
            day = self._days.get(strategy_id)
            if day is None:
                day = self._days[strategy_id] = DailyPnL(self.reset, self.tz)
                if strategy_id in resumed:
                    day.resume(boundary, resumed[strategy_id])  # the day began before a restart
                elif not first_check:
                    day.update(at, 0.0)  # a strategy first seen after start-up began the day flat
            today = self.daily[strategy_id] = day.update(at, pnl)
            try:
                await self._apply(strategy_id, today)
            except Exception as exc:  # one strategy's trouble must not stop the guard for the others
                log.error("daily_loss.check_failed", strategy_id=strategy_id, error=repr(exc))
        await self._save(boundary)

    async def _load(self, boundary: datetime) -> dict[str, float]:
        """The day's starting PnL per strategy, if the file is from this same day (else nothing)."""
        if self.state_file is None:
            return {}
        try:
            raw = await anyio.to_thread.run_sync(self.state_file.read_bytes)
            saved = msgspec.json.decode(raw, type=_SavedDays)
        except FileNotFoundError:
            return {}
        except (OSError, msgspec.DecodeError) as exc:
            log.warning("daily_loss.state_unreadable", path=str(self.state_file), error=str(exc))
            return {}
        if saved.boundary != boundary:
            return {}  # written on another day: today starts afresh
        self._saved = dict(saved.start)
        log.info("daily_loss.resumed", strategies=sorted(saved.start), boundary=boundary.isoformat())
        return dict(saved.start)

    async def _save(self, boundary: datetime) -> None:
        """Write the day's starting points when they change (a new strategy, a new day): rarely."""
        if self.state_file is None:
            return
        start = {sid: d.day[1] for sid, d in self._days.items() if d.day is not None and d.day[0] == boundary}
        if start == self._saved:
            return
        self._saved = start
        data = msgspec.json.encode(_SavedDays(boundary=boundary, start=start))
        path = self.state_file

        def write() -> None:
            partial = path.with_suffix(".tmp")
            partial.write_bytes(data)
            os.replace(partial, path)

        try:
            await anyio.to_thread.run_sync(write)
        except OSError as exc:
            log.warning("daily_loss.state_not_saved", path=str(path), error=str(exc))

    async def _apply(self, strategy_id: str, today: float) -> None:
        limits = self.risk.limits_for(strategy_id)
        halt_at, halt_key = limits.tighter("daily_loss_halt")
        if halt_at and today <= -halt_at and strategy_id not in self.halted:
            reason = f"daily loss {today:,.2f} reached {halt_key} {halt_at:,.2f}"
            self.halted.add(strategy_id)
            self.risk.reducing_only.setdefault(strategy_id, reason)
            self._alert("halted", strategy_id, f"{strategy_id} halted: {reason}", today, halt_at)
            await self._halt(strategy_id, reason)
            return
        limit, limit_key = limits.tighter("daily_loss_limit")
        if limit and today <= -limit and strategy_id not in self.risk.reducing_only:
            reason = f"daily loss {today:,.2f} reached {limit_key} {limit:,.2f}"
            self.risk.reducing_only[strategy_id] = reason
            self._alert(
                "reducing_only", strategy_id, f"{strategy_id} is reducing-only: {reason}", today, limit
            )

    def _alert(self, kind: str, strategy_id: str, message: str, today: float, limit: float) -> None:
        log.warning("risk.daily_loss", kind=kind, strategy_id=strategy_id, daily_pnl=today, limit=limit)
        if self.bus is not None:
            data = {"strategy_id": strategy_id, "daily_pnl": today, "limit": limit}
            self.bus.publish(AlertRaised(kind=kind, message=message, data=data))

    def _new_day(self) -> None:
        """The daily reset: reducing-only lifts; halted strategies stay killed until an operator says."""
        if self.risk.reducing_only or self.halted:
            log.info(
                "daily_loss.reset", reducing_only=sorted(self.risk.reducing_only), halted=sorted(self.halted)
            )
        self.risk.reducing_only.clear()
        self.halted.clear()
