"""RealTimeBarFeed: one IB real-time-bar stream per contract, fanned out to every strategy that wants it.

Each stream is requested once (IB allows 60 new real-time-bar requests per 10 minutes, so the pacing gate
is respected), aggregated per bar size (aligned to the instrument's exchange sessions: aggregate.py), and
delivered to subscribers' mailboxes. After a reconnect or a
1101 (IB restored connectivity but dropped every subscription) all streams are requested again. A
watchdog raises one ``stale_data`` alert per stream that goes quiet while its market is open, and says
nothing while the market is closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
import structlog
from ib_async import RealTimeBar, RealTimeBarList

from mats.actors.bus import EventBus
from mats.ib.connection import ManagedClient
from mats.ib.contracts import contract_for
from mats.ib.errors import Signal
from mats.ib.pacing import SlidingWindow
from mats.instruments import Instrument
from mats.marketdata.aggregate import BarAggregator
from mats.marketdata.sessions import Sessions, load_sessions, loaded_sessions
from mats.messages import AlertRaised
from mats.model import Bar

log = structlog.get_logger("mats.marketdata")

Deliver = Callable[[Bar], None]
FIVE_SECONDS = timedelta(seconds=5)


@dataclass
class _Stream:
    instrument: Instrument
    bars: RealTimeBarList | None = None
    aggregators: dict[int, BarAggregator] = field(default_factory=dict)
    subscribers: dict[int, list[Deliver]] = field(default_factory=dict)
    last_update: float = field(default_factory=time.monotonic)
    stale: bool = False


def market_open(calendar: str, at: datetime) -> bool:
    """Whether ``calendar``'s market is in session at ``at`` (FX trades around the clock on weekdays).

    Runs on the loop, so it only uses sessions already loaded (``subscribe`` loads them off the loop);
    a calendar not loaded, or unknown, counts as open: better a spurious alert than silence on a dead feed.
    """
    if calendar in ("24/5", "24/7"):
        return calendar == "24/7" or at.weekday() < 5
    sessions = loaded_sessions(calendar)
    if not isinstance(sessions, Sessions):
        return True
    return sessions.session_at(int(at.timestamp())) is not None


class RealTimeBarFeed:
    def __init__(
        self,
        client: ManagedClient,
        *,
        bus: EventBus | None = None,
        pacing: SlidingWindow | None = None,
        stale_after: float = 30.0,
    ) -> None:
        self.client = client
        self.bus = bus
        self.pacing = pacing or SlidingWindow(60, 600.0)
        self.stale_after = stale_after
        self._streams: dict[int, _Stream] = {}
        self._last_price: dict[int, float] = {}
        self._data_now: datetime | None = None  # the end of the latest 5-second bar seen on any stream
        self._watchdog: asyncio.Task[None] | None = None
        client.on_connected.append(self._resubscribe_all)
        client.on_signal.append(self._on_signal)

    async def subscribe(self, instrument: Instrument, bar_seconds: int, deliver: Deliver) -> None:
        stream = self._streams.get(instrument.con_id)
        if stream is None:
            stream = self._streams[instrument.con_id] = _Stream(instrument)
            await self._request(stream)
        if bar_seconds not in stream.aggregators:
            # bars align to the exchange's sessions; its calendar loads off the loop (a second, once)
            sessions = await anyio.to_thread.run_sync(load_sessions, instrument.calendar)
            stream.aggregators.setdefault(bar_seconds, BarAggregator(instrument.key, bar_seconds, sessions))
        stream.subscribers.setdefault(bar_seconds, []).append(deliver)
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name="stale-data-watchdog")

    def unsubscribe(self, instrument: Instrument, deliver: Deliver) -> None:
        stream = self._streams.get(instrument.con_id)
        if stream is None:
            return
        for size, delivers in list(stream.subscribers.items()):
            if deliver in delivers:
                delivers.remove(deliver)
            if not delivers:
                del stream.subscribers[size]
                stream.aggregators.pop(size, None)
        if not stream.subscribers:
            self._cancel(stream)
            del self._streams[instrument.con_id]

    def last_price(self, con_id: int) -> float | None:
        """The close of the latest 5-second bar (what risk checks price a market order at)."""
        return self._last_price.get(con_id)

    async def close(self) -> None:
        for stream in self._streams.values():
            self._cancel(stream)
        self._streams.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()

    # --- IB ---------------------------------------------------------------------------------------------

    async def _request(self, stream: _Stream) -> None:
        ib = self.client.ib
        if ib is None or not self.client.connected:
            return  # requested on (re)connect
        await self.pacing.acquire()
        what = "MIDPOINT" if stream.instrument.sec_type == "CASH" else "TRADES"
        bars = ib.reqRealTimeBars(contract_for(stream.instrument), 5, what, False)
        bars.updateEvent += self._on_bars
        stream.bars = bars
        stream.last_update = time.monotonic()
        log.info("marketdata.subscribed", symbol=stream.instrument.key, what=what)

    def _cancel(self, stream: _Stream) -> None:
        ib = self.client.ib
        if stream.bars is not None:
            stream.bars.updateEvent -= self._on_bars
            if ib is not None and self.client.connected:
                ib.cancelRealTimeBars(stream.bars)
            stream.bars = None

    async def _resubscribe_all(self, client: ManagedClient) -> None:
        for stream in self._streams.values():
            if stream.bars is not None:
                stream.bars.updateEvent -= self._on_bars
                stream.bars = None
            await self._request(stream)

    async def _on_signal(self, client: ManagedClient, signal: Signal, req_id: int, message: str) -> None:
        if signal is Signal.RESTORED_DATA_LOST:  # 1101: IB dropped every subscription silently
            log.warning("marketdata.resubscribe", reason="1101 data lost")
            await self._resubscribe_all(client)

    def _on_bars(self, bars: RealTimeBarList, has_new_bar: bool) -> None:
        if not has_new_bar or not bars:
            return
        stream = self._streams.get(bars.contract.conId) if bars.contract else None
        if stream is None or stream.bars is not bars:
            return
        latest: RealTimeBar = bars[-1]
        # ib_async appends every 5-second bar to this list for the life of the subscription (17,280 a day
        # per contract, found by the soak's heap diff); the aggregators hold what MATS needs.
        del bars[:-1]
        end = latest.time + FIVE_SECONDS
        if self._data_now is None or end > self._data_now:
            self._data_now = end
        self._last_price[stream.instrument.con_id] = latest.close
        stream.last_update = time.monotonic()
        stream.stale = False
        for size, aggregator in stream.aggregators.items():
            for bar in aggregator.add(
                latest.time, latest.open_, latest.high, latest.low, latest.close, latest.volume
            ):
                for deliver in list(stream.subscribers.get(size, ())):  # a strategy may run now
                    deliver(bar)

    # --- watchdog -----------------------------------------------------------------------------------------

    def flush_due(self, now: datetime | None = None) -> None:
        """Deliver bars whose end has passed without the 5-second bar that would have closed them (a quiet
        last few seconds before the close must not hold a session's last bar until the next open).

        ``now`` defaults to the market's own clock: the end of the latest 5-second bar on any stream (IB's
        clock, or the simulator's virtual one), never the wall clock: a paused replay flushes nothing early.
        """
        now = now or self._data_now
        if now is None:
            return
        for stream in list(self._streams.values()):
            for size, aggregator in list(stream.aggregators.items()):
                for bar in aggregator.flush(now):
                    for deliver in list(stream.subscribers.get(size, ())):  # a strategy may run now
                        deliver(bar)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(min(self.stale_after / 3, 10.0))
            self.flush_due()
            now = time.monotonic()
            for stream in self._streams.values():
                quiet = now - stream.last_update
                if stream.stale or quiet < self.stale_after:
                    continue
                if not market_open(stream.instrument.calendar, datetime.now(UTC)):
                    continue  # a closed market is quiet by design
                stream.stale = True
                message = f"no bars for {stream.instrument.key} for {quiet:.0f} s while its market is open"
                log.warning("marketdata.stale", symbol=stream.instrument.key, quiet_s=round(quiet))
                if self.bus is not None:
                    self.bus.publish(
                        AlertRaised(
                            kind="stale_data", message=message, data={"symbol": stream.instrument.key}
                        )
                    )
