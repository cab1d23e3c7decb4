"""Server → client market-data messages (ticks, bars, head timestamp), as ib_async 2.1 decodes them."""

from __future__ import annotations

from collections.abc import Iterable

from .bars import Bar
from .market import Quote
from .outbound import Fields

# tick types: live, and their delayed counterparts (after reqMarketDataType(3|4))
BID_SIZE, BID, ASK, ASK_SIZE, LAST, LAST_SIZE, HIGH, LOW, VOLUME, CLOSE, OPEN, LAST_TIMESTAMP = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 45,
)  # fmt: skip
DELAYED = {0: 69, 1: 66, 2: 67, 3: 70, 4: 68, 5: 71, 6: 72, 7: 73, 8: 74, 9: 75, 14: 76, 45: 88}


def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str) -> Fields:
    return [81, req_id, min_tick, bbo_exchange, 3]


def market_data_type(req_id: int, kind: int) -> Fields:
    return [58, 1, req_id, kind]


def tick_price(req_id: int, tick_type: int, price: float, size: float) -> Fields:
    """Exactly 7 fields; attribute mask 0 (no past-limit, no pre-open)."""
    return [1, 6, req_id, tick_type, price, _size(size), 0]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    return [2, 6, req_id, tick_type, _size(size)]


def tick_string(req_id: int, tick_type: int, value: str) -> Fields:
    return [46, 6, req_id, tick_type, value]


def tick_snapshot_end(req_id: int) -> Fields:
    return [57, 1, req_id]


def quote_ticks(req_id: int, q: Quote, delayed: bool, full: bool) -> list[Fields]:
    """The ticks of one quote: bid, ask, last (with sizes), volume, high/low, timestamp; `full` adds
    the separate size ticks and open/close that TWS sends once at subscription."""
    t = DELAYED if delayed else {k: k for k in DELAYED}
    ticks: list[Fields] = [
        tick_price(req_id, t[BID], q.bid, q.bid_size),
        tick_price(req_id, t[ASK], q.ask, q.ask_size),
    ]
    if full:
        ticks += [tick_size(req_id, t[BID_SIZE], q.bid_size), tick_size(req_id, t[ASK_SIZE], q.ask_size)]
    if q.has_trades:
        ticks.append(tick_price(req_id, t[LAST], q.last, q.last_size))
        if full:
            ticks.append(tick_size(req_id, t[LAST_SIZE], q.last_size))
        ticks.append(tick_size(req_id, t[VOLUME], q.volume))
        ticks.append(tick_string(req_id, t[LAST_TIMESTAMP], str(q.time)))
    ticks += [tick_price(req_id, t[HIGH], q.high, 0), tick_price(req_id, t[LOW], q.low, 0)]
    if full:
        ticks += [tick_price(req_id, t[CLOSE], q.close, 0), tick_price(req_id, t[OPEN], q.open, 0)]
    return ticks


def historical_data(req_id: int, start: str, end: str, rows: Iterable[tuple[str, Bar]]) -> Fields:
    """historicalData (msg 17, no version): start/end strings, then 8 fields per bar."""
    body: Fields = []
    count = 0
    for date, bar in rows:
        body += [
            date,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            _size(bar.volume),
            round(bar.wap, 6),
            bar.count,
        ]
        count += 1
    return [17, req_id, start, end, count, *body]


def historical_update(req_id: int, date: str, bar: Bar) -> Fields:
    """historicalDataUpdate (msg 90): note close comes before high and low."""
    return [
        90,
        req_id,
        bar.count,
        date,
        bar.open,
        bar.close,
        bar.high,
        bar.low,
        round(bar.wap, 6),
        _size(bar.volume),
    ]


def real_time_bar(req_id: int, bar: Bar) -> Fields:
    return [
        50,
        3,
        req_id,
        bar.start,
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        _size(bar.volume),
        round(bar.wap, 6),
        bar.count,
    ]


def head_timestamp(req_id: int, stamp: str) -> Fields:
    return [88, req_id, stamp]


def _size(value: float) -> int | float:
    return int(value) if value == int(value) else value
