"""Market-data requests and streams: ticks on every print, 5-second bars, keepUpToDate bar updates.

Streams belong to the session that asked (TWS drops them with the socket); one timer on the virtual clock
closes each 5-second bar and feeds every real-time-bar and keepUpToDate subscriber from the same tape.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from . import outbound as out
from . import outbound_md as md
from .bars import (
    BASE_SECONDS,
    Bar,
    BarRequestError,
    bar_date,
    bucket,
    head_date,
    parse_bar_size,
    parse_duration,
    parse_end,
)
from .clock import Clock, Timer
from .contracts import ContractBook, ContractQuery, ContractSpec
from .inbound import ReqHeadTimeStamp, ReqHistoricalData, ReqMktData, ReqRealTimeBars
from .market import Market
from .pacing import REAL_TIME_BARS_PER_10_MIN, HistoricalPacer, Window

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("mats.sim.feeds")

HMDS = "Historical Market Data Service error message:"
WHAT_TO_SHOW = frozenset({"TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST"})
RT_WHAT_TO_SHOW = frozenset({"TRADES", "MIDPOINT", "BID", "ASK"})
MAX_TICKERS = 100


@dataclass(frozen=True, slots=True)
class TickStream:
    req_id: int
    spec: ContractSpec
    delayed: bool


@dataclass(frozen=True, slots=True)
class BarStream:
    """A keepUpToDate historical request or a real-time-bar subscription (`seconds` = 5)."""

    req_id: int
    spec: ContractSpec
    seconds: int
    what: str
    format_date: int = 2
    real_time: bool = False


class FeedHub(Protocol):
    contracts: ContractBook
    market: Market
    clock: Clock

    def sessions(self) -> Iterable[Session]: ...

    @property
    def pacing(self) -> bool: ...


class Feeds:
    def __init__(self, hub: FeedHub) -> None:
        self.hub = hub
        self.paused = False  # farm down (nightly reset, flap): no ticks, no bars
        self._timer: Timer | None = None
        self.historical_pacer = HistoricalPacer()
        self.rt_pacer = Window(600.0)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._timer is None:
            self._schedule_bar_close()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule_bar_close(self) -> None:
        now = self.hub.clock.now().timestamp()
        boundary = bucket(now, BASE_SECONDS) + BASE_SECONDS
        self._timer = self.hub.clock.call_later(boundary - now, lambda: self._close_bar(boundary))

    def _close_bar(self, boundary: int) -> None:
        """A 5-second bar ended at `boundary`: real-time bars and keepUpToDate updates go out."""
        self._schedule_bar_close()
        if self.paused:
            return
        start = boundary - BASE_SECONDS
        for session in self.hub.sessions():
            for stream in list(session.subs.bar_streams.values()):
                tape = self.hub.market.tape(stream.spec.con_id)
                if stream.real_time:
                    session.send(md.real_time_bar(stream.req_id, _shown(tape.base_bar(start), stream)))
                    continue
                window = bucket(start, stream.seconds)
                starts = [window]
                if boundary % stream.seconds == 0:  # this bar is complete: the next one opens now
                    starts.append(boundary)
                for s in starts:
                    bar = _shown(tape.window(s, stream.seconds, boundary), stream)
                    date = bar_date(s, stream.seconds, stream.format_date, stream.spec.time_zone)
                    session.send(md.historical_update(stream.req_id, date, bar))

    # ------------------------------------------------------------------ ticks

    def prices_moved(self, con_ids: Iterable[int]) -> None:
        if self.paused:
            return
        moved = set(con_ids)
        for session in self.hub.sessions():
            for stream in session.subs.ticks.values():
                if stream.spec.con_id in moved:
                    quote = self.hub.market.quote(stream.spec, stream.delayed)
                    for fields in md.quote_ticks(stream.req_id, quote, stream.delayed, full=False):
                        session.send(fields)

    def drop_all(self) -> None:
        """Subscriptions silently lost (1101): the client must re-request everything."""
        for session in self.hub.sessions():
            session.subs.ticks.clear()
            session.subs.bar_streams.clear()

    # --------------------------------------------------------------- requests

    def _resolve(self, session: Session, req_id: int, query: ContractQuery) -> ContractSpec | None:
        spec = self.hub.contracts.resolve(query)
        if spec is None:
            session.send(out.error(req_id, 200, "No security definition has been found for the request"))
        return spec

    def market_data(self, session: Session, r: ReqMktData) -> None:
        subs = session.subs
        if r.req_id in subs.ticks:
            session.send(out.error(r.req_id, 102, "Duplicate ticker id"))
            return
        if not r.snapshot and len(subs.ticks) >= MAX_TICKERS:
            session.send(out.error(r.req_id, 101, f"Max number of tickers has been reached: {MAX_TICKERS}"))
            return
        spec = self._resolve(session, r.req_id, r.contract)
        if spec is None:
            return
        kind = subs.market_data_type
        delayed = kind in (3, 4)
        if delayed:
            session.send(
                out.error(
                    r.req_id,
                    10167,
                    "Requested market data is not subscribed. Displaying delayed market data.",
                )
            )
        session.send(
            md.tick_req_params(r.req_id, spec.min_tick, "SMART" if spec.sec_type == "STK" else spec.exchange)
        )
        session.send(md.market_data_type(r.req_id, kind))
        if not self.paused:
            quote = self.hub.market.quote(spec, delayed)
            for fields in md.quote_ticks(r.req_id, quote, delayed, full=True):
                session.send(fields)
        if r.snapshot:
            session.end_marker("tickSnapshotEnd", md.tick_snapshot_end(r.req_id))
            return
        subs.ticks[r.req_id] = TickStream(r.req_id, spec, delayed)

    def historical(self, session: Session, r: ReqHistoricalData) -> None:
        spec = self._resolve(session, r.req_id, r.contract)
        if spec is None:
            return
        if r.keep_up_to_date and r.end.strip():
            session.send(
                out.error(
                    r.req_id,
                    321,
                    "Error validating request:-'bP' : cause - End date not supported with live updates",
                )
            )
            session.send(md.historical_data(r.req_id, "", "", []))
            return
        now = self.hub.clock.now().timestamp()
        try:
            seconds = parse_bar_size(r.bar_size)
            duration = parse_duration(r.duration)
            end = parse_end(r.end, now)
            if r.what_to_show not in WHAT_TO_SHOW:
                raise BarRequestError(f"whatToShow {r.what_to_show!r} is not supported by the simulator")
            if spec.sec_type == "CASH" and r.what_to_show in ("TRADES", "ADJUSTED_LAST"):
                raise BarRequestError(
                    f"No data of type {r.what_to_show} is available for {spec.local_symbol}"
                )
            if seconds < BASE_SECONDS:
                raise BarRequestError(f"bar size {r.bar_size!r} is below the simulator's 5 seconds")
            if self.hub.pacing:
                key = (spec.con_id, r.end, r.bar_size, r.duration, r.what_to_show, r.use_rth)
                why = self.historical_pacer.violation(key, spec.con_id, now)
                if why:
                    raise BarRequestError(f"Historical data request pacing violation ({why})")
            tape = self.hub.market.tape(spec.con_id)
            bars = tape.bars(end - duration, end, seconds, now)
        except BarRequestError as e:
            session.send(out.error(r.req_id, 162, HMDS + str(e)))
            return
        stream = BarStream(r.req_id, spec, seconds, r.what_to_show, r.format_date)
        if r.use_rth:
            bars = [b for b in bars if _regular_hours(spec, b.start, seconds)]
        rows = [(bar_date(b.start, seconds, r.format_date, spec.time_zone), _shown(b, stream)) for b in bars]
        session.send(md.historical_data(r.req_id, _stamp(end - duration), _stamp(end), rows))
        if r.keep_up_to_date:
            session.subs.bar_streams[r.req_id] = stream

    def real_time_bars(self, session: Session, r: ReqRealTimeBars) -> None:
        spec = self._resolve(session, r.req_id, r.contract)
        if spec is None:
            return
        if r.bar_size != BASE_SECONDS or r.what_to_show not in RT_WHAT_TO_SHOW:
            session.send(
                out.error(r.req_id, 420, f"Invalid Real-time Query: bar size {r.bar_size} / {r.what_to_show}")
            )
            return
        if (
            self.hub.pacing
            and self.rt_pacer.hit(self.hub.clock.now().timestamp()) > REAL_TIME_BARS_PER_10_MIN
        ):
            session.send(
                out.error(r.req_id, 420, "Invalid Real-time Query:Historical data request pacing violation")
            )
            return
        session.subs.bar_streams[r.req_id] = BarStream(r.req_id, spec, BASE_SECONDS, r.what_to_show, 2, True)

    def head_timestamp(self, session: Session, r: ReqHeadTimeStamp) -> None:
        spec = self._resolve(session, r.req_id, r.contract)
        if spec is None:
            return
        head = self.hub.market.tape(spec.con_id).head
        session.send(md.head_timestamp(r.req_id, head_date(head, r.format_date)))

    def farm_lost(self) -> None:
        """10182 to every keepUpToDate stream, which then stops (as at IB after a farm flap)."""
        for session in self.hub.sessions():
            for req_id, stream in list(session.subs.bar_streams.items()):
                if not stream.real_time:
                    session.send(out.error(req_id, 10182, "Failed to request live updates (disconnected)."))
                    del session.subs.bar_streams[req_id]


def _shown(bar: Bar, stream: BarStream) -> Bar:
    """The bar as `whatToShow` asks: bid/ask a tick off the last; midpoint (the last) without volume."""
    tick = stream.spec.min_tick
    shift = {"BID": -tick, "ASK": tick}.get(stream.what, 0.0)
    if stream.what == "BID_ASK":
        return Bar(
            bar.start,
            bar.open - tick,
            bar.high + tick,
            bar.low - tick,
            bar.close + tick,
            0.0,
            bar.count,
            bar.wap,
        )
    if shift or stream.what == "MIDPOINT":
        shown = bar.copy()
        for name in ("open", "high", "low", "close", "wap"):
            setattr(shown, name, round(getattr(bar, name) + shift, 8))
        if stream.what == "MIDPOINT":  # quotes have no volume: IB writes -1
            shown.volume, shown.count, shown.wap = -1.0, -1, -1.0
        return shown
    return bar


def _regular_hours(spec: ContractSpec, start: int, seconds: int) -> bool:
    """useRTH: US stock bars inside 09:30–16:00 New York time; other contracts trade round the clock here."""
    if seconds >= 86400 or spec.sec_type != "STK" or spec.currency != "USD":
        return True
    local = dt.datetime.fromtimestamp(start, ZoneInfo("America/New_York"))
    minutes = local.hour * 60 + local.minute
    return local.weekday() < 5 and 570 <= minutes < 960


def _stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y%m%d %H:%M:%S")
