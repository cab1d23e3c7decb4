"""Market data through real ib_async clients on a paused virtual clock: ticks, snapshots, bars, replay.

Time moves only when a test calls `sim.control.advance(seconds)`, so an hour of bars takes no wall time
and every expected value is exact.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from ib_async import IB, BarDataList, Contract, Forex, Future, LimitOrder, MarketOrder, RealTimeBarList, Stock

from mats.sim import SimServer
from mats.sim.clock import VirtualClock

from .conftest import Connect
from .helpers import EVENT_TIMEOUT, wait_until

#: Monday 23 Nov 2026, 09:30 New York.
START = dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """Random walk on (one step per virtual second), clock paused at START."""
    clock = VirtualClock(START, running=False)
    async with SimServer(port=0, price_interval=1.0, account_push_interval=0.01, clock=clock) as server:
        yield server


async def qualified(ib: IB, *contracts: Contract) -> list[Contract]:
    result = await ib.qualifyContractsAsync(*contracts)
    assert all(isinstance(c, Contract) for c in result)
    return [c for c in result if isinstance(c, Contract)]


async def round_trip(ib: IB) -> None:
    """Everything the simulator sent before this has been processed by the client."""
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), EVENT_TIMEOUT)


async def test_streaming_ticks_show_the_simulator_price_and_stop_after_cancel(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(1)
    (aapl,) = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.set_price("AAPL", 187.42)
    ticker = ib.reqMktData(aapl)
    await wait_until(ib, lambda: ticker.last == 187.42 and ticker.bid == 187.41)

    assert (ticker.bid, ticker.ask, ticker.last) == (187.41, 187.43, 187.42)
    assert (ticker.bidSize, ticker.askSize) == (500, 400)
    assert ticker.marketDataType == 1 and ticker.minTick == 0.01
    assert ticker.close == 190.0  # the previous close is the start price
    assert ticker.volume > 0 and ticker.lastTimestamp == START

    sim.control.advance(30)  # the walk moves the price; each move is a tick
    await wait_until(ib, lambda: ticker.last == sim.control.price("AAPL"))
    assert ticker.bid == round(ticker.last - 0.01, 2) and ticker.ask == round(ticker.last + 0.01, 2)
    assert ticker.high >= ticker.last >= ticker.low
    assert ticker.lastTimestamp is not None and ticker.lastTimestamp <= START + dt.timedelta(seconds=30)

    ib.cancelMktData(aapl)
    await round_trip(ib)
    seen = ticker.last
    sim.control.set_price("AAPL", seen + 5)
    await round_trip(ib)
    assert ticker.last == seen


async def test_market_order_fills_at_the_last_price_the_ticker_shows(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(2)
    (es,) = await qualified(ib, Future("ES", exchange="CME"))
    ticker = ib.reqMktData(es)
    await round_trip(ib)
    sim.control.advance(17)
    await wait_until(ib, lambda: ticker.last == sim.control.price("ES"))

    trade = ib.placeOrder(es, MarketOrder("BUY", 2))
    await wait_until(ib, trade.isDone)
    assert trade.orderStatus.avgFillPrice == ticker.last
    assert ticker.ask - ticker.bid == 0.5  # one 0.25 tick either side


async def test_snapshots_of_stock_future_and_fx(sim: SimServer, connect: Connect) -> None:
    ib = await connect(3)
    aapl, es, eur = await qualified(
        ib, Stock("AAPL", "SMART", "USD"), Future("ES", exchange="CME"), Forex("EURUSD")
    )
    tickers = await asyncio.wait_for(ib.reqTickersAsync(aapl, es, eur), EVENT_TIMEOUT)

    by_symbol = {t.contract.symbol: t for t in tickers if t.contract}
    assert (by_symbol["AAPL"].bid, by_symbol["AAPL"].last, by_symbol["AAPL"].ask) == (189.99, 190.0, 190.01)
    assert (by_symbol["ES"].bid, by_symbol["ES"].last, by_symbol["ES"].ask) == (4999.75, 5000.0, 5000.25)
    fx = by_symbol["EUR"]
    assert (fx.bid, fx.ask) == (1.07995, 1.08005) and math.isnan(fx.last)  # FX quotes, never trades
    assert fx.marketPrice() == pytest.approx(1.08)


async def test_delayed_data_lags_fifteen_minutes_with_delayed_tick_types(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(4)
    (msft,) = await qualified(ib, Stock("MSFT", "SMART", "USD"))
    sim.control.set_price("MSFT", 400.0)
    sim.control.advance(901)
    sim.control.set_price("MSFT", 420.0)
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, *_: codes.append(code)
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(msft)
    await wait_until(ib, lambda: ticker.marketDataType == 3 and not math.isnan(ticker.last))

    assert codes == [10167]
    assert ticker.last != 420.0  # the price of fifteen minutes ago
    assert [t.tickType for t in ticker.ticks][:2] == [66, 67]


async def test_historical_bars_agree_with_real_time_bars_and_ticks(sim: SimServer, connect: Connect) -> None:
    ib = await connect(5)
    (aapl,) = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    live = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
    await round_trip(ib)  # the subscription has reached the simulator
    sim.control.advance(600)
    await wait_until(ib, lambda: len(live) == 120)

    bars = await asyncio.wait_for(
        ib.reqHistoricalDataAsync(aapl, "", "600 S", "1 min", "TRADES", False, formatDate=1), EVENT_TIMEOUT
    )
    assert len(bars) == 10
    assert [b.date for b in bars] == [
        (START + dt.timedelta(minutes=i)).astimezone(ZoneInfo("US/Eastern")) for i in range(10)
    ]
    assert all(bar.date.tzinfo is not None for bar in bars)  # type: ignore[union-attr]
    for i, bar in enumerate(bars):
        fives = live[i * 12 : (i + 1) * 12]
        assert fives[0].time == START + dt.timedelta(minutes=i)
        assert (bar.open, bar.close) == (fives[0].open_, fives[-1].close)
        assert bar.high == max(f.high for f in fives) and bar.low == min(f.low for f in fives)
        assert bar.volume == sum(f.volume for f in fives)
    assert bars[-1].close == live[-1].close  # the 09:39:55 bar; 09:40:00 has begun a new one
    assert [b.time for b in live] == [START + dt.timedelta(seconds=5 * i) for i in range(120)]

    ib.cancelRealTimeBars(live)
    await round_trip(ib)
    sim.control.advance(60)
    await round_trip(ib)
    assert len(live) == 120


async def test_history_before_the_start_is_seeded_and_ends_at_the_start_price(
    sim: SimServer, connect: Connect
) -> None:
    ib = await connect(6)
    (spy,) = await qualified(ib, Stock("SPY", "SMART", "USD"))
    hourly = await ib.reqHistoricalDataAsync(spy, "", "1 D", "1 hour", "TRADES", False, formatDate=2)
    again = await ib.reqHistoricalDataAsync(spy, "", "1 D", "1 hour", "TRADES", False, formatDate=2)
    earlier = await ib.reqHistoricalDataAsync(
        spy, START - dt.timedelta(hours=12), "1 D", "1 hour", "TRADES", False, formatDate=2
    )
    daily = await ib.reqHistoricalDataAsync(spy, "", "1 M", "1 day", "MIDPOINT", True)
    asks = await ib.reqHistoricalDataAsync(spy, "", "1 D", "1 hour", "ASK", False, formatDate=2)
    head = await ib.reqHeadTimeStampAsync(spy, "TRADES", False, 1)
    now = await ib.reqCurrentTimeAsync()

    assert now == START
    assert len(hourly) == 24 and hourly[-1].close == 470.0
    assert hourly[0].date == dt.datetime(2026, 11, 22, 15, tzinfo=dt.UTC)  # formatDate=2: UTC datetimes
    assert [(b.open, b.close) for b in hourly] == [(b.open, b.close) for b in again]
    assert [b.close for b in asks] == [round(b.close + 0.01, 2) for b in hourly]  # a tick above
    assert earlier[-1].date == START - dt.timedelta(hours=12, minutes=30)  # an explicit end (UTC)
    same_hours = {b.date: (b.open, b.high, b.low, b.close, b.volume) for b in hourly}
    overlap = [b for b in earlier if b.date in same_hours]
    assert len(overlap) == 12  # the same bars whichever window asks
    assert all(same_hours[b.date] == (b.open, b.high, b.low, b.close, b.volume) for b in overlap)
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in hourly)
    assert all(isinstance(b.date, dt.date) and not isinstance(b.date, dt.datetime) for b in daily)
    assert len(daily) == 30 and daily[-1].volume == -1  # MIDPOINT carries no volume
    assert isinstance(head, dt.datetime) and head < START - dt.timedelta(days=365)


async def test_keep_up_to_date_appends_and_updates_the_current_bar(sim: SimServer, connect: Connect) -> None:
    ib = await connect(7)
    (aapl,) = await qualified(ib, Stock("AAPL", "SMART", "USD"))
    sim.control.advance(125)
    bars = await ib.reqHistoricalDataAsync(aapl, "", "300 S", "1 min", "TRADES", False, keepUpToDate=True)
    assert isinstance(bars, BarDataList) and len(bars) == 5  # 14:28 … 14:31 and the growing 14:32
    updates: list[bool] = []
    bars.updateEvent += lambda _bars, new_bar: updates.append(new_bar)

    sim.control.advance(40)  # 14:32:05 → 14:32:45: the current bar grows
    fives = sim.control.bars("AAPL", 5, START)
    (last_five,) = [b for b in fives if b.start == int((START + dt.timedelta(seconds=160)).timestamp())]
    await wait_until(ib, lambda: bars[-1].close == last_five.close)
    assert len(bars) == 5
    sim.control.advance(20)  # past 14:33: a new bar
    await wait_until(ib, lambda: len(bars) == 6)
    assert True in updates
    full = await ib.reqHistoricalDataAsync(aapl, "", "300 S", "1 min", "TRADES", False, formatDate=2)
    closed = full[-2]  # the 14:32 bar, now complete
    assert (bars[4].open, bars[4].high, bars[4].low, bars[4].close) == (
        closed.open,
        closed.high,
        closed.low,
        closed.close,
    )
    ib.cancelHistoricalData(bars)
    await round_trip(ib)
    count = len(bars)
    sim.control.advance(120)
    await round_trip(ib)
    assert len(bars) == count


async def test_bad_requests_end_with_an_error_never_a_hang(sim: SimServer, connect: Connect) -> None:
    ib = await connect(8)
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    aapl, eur = await qualified(ib, Stock("AAPL", "SMART", "USD"), Forex("EURUSD"))

    cases = [
        ib.reqHistoricalDataAsync(aapl, "", "1 D", "7 parsecs", "TRADES", False),
        ib.reqHistoricalDataAsync(aapl, "", "1 D", "1 min", "DIVIDENDS", False),
        ib.reqHistoricalDataAsync(eur, "", "1 D", "1 min", "TRADES", False),
        ib.reqHistoricalDataAsync(aapl, "", "10 Y", "5 secs", "TRADES", False),
        ib.reqHistoricalDataAsync(aapl, START, "1 D", "1 min", "TRADES", False, keepUpToDate=True),
        ib.reqHistoricalDataAsync(Stock("NOPE", "SMART", "USD"), "", "1 D", "1 min", "TRADES", False),
    ]
    results = [await asyncio.wait_for(c, EVENT_TIMEOUT) for c in cases]

    assert all(list(r) == [] for r in results)
    assert [code for _, code in errors] == [162, 162, 162, 162, 321, 200]

    errors.clear()
    first = ib.reqMktData(aapl)
    ib.client.reqMktData(ib.wrapper.ticker2ReqId["mktData"][first], aapl, "", False, False, [])
    await wait_until(ib, lambda: len(errors) == 1)
    assert errors[0][1] == 102  # duplicate ticker id


async def test_a_day_of_one_minute_bars_replays_from_a_dataframe() -> None:
    day = pd.date_range("2024-01-02 14:30", periods=390, freq="1min", tz="UTC")
    closes = [100 + 0.05 * i + (0.3 if i % 7 == 0 else 0.0) for i in range(390)]
    frame = pd.DataFrame(
        {
            "open": [c - 0.02 for c in closes],
            "high": [c + 0.10 for c in closes],
            "low": [c - 0.10 for c in closes],
            "close": closes,
            "volume": [1000 + i for i in range(390)],
        },
        index=day,
    )
    frame = frame.round(2)
    clock = VirtualClock(running=False, start=day[0].to_pydatetime())
    async with SimServer(port=0, price_interval=0, clock=clock, bars={"AAPL": frame}) as sim:
        ib = IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=1, timeout=2)
        try:
            (aapl,) = await qualified(ib, Stock("AAPL", "SMART", "USD"))
            sell = ib.placeOrder(aapl, LimitOrder("SELL", 10, 110.0, tif="GTC"))
            await wait_until(ib, lambda: sell.orderStatus.status == "Submitted")
            assert sim.control.price("AAPL") == frame["open"].iloc[0]

            sim.control.advance(390 * 60)
            bars = await ib.reqHistoricalDataAsync(aapl, "", "1 D", "1 min", "TRADES", False, formatDate=2)
            five = await ib.reqHistoricalDataAsync(aapl, "", "1 D", "5 mins", "TRADES", False, formatDate=2)
            fives = await ib.reqHistoricalDataAsync(
                aapl, "", "300 S", "5 secs", "TRADES", False, formatDate=2
            )
            await wait_until(ib, sell.isDone)
        finally:
            ib.disconnect()

    assert [b.date for b in bars] == list(day.to_pydatetime())
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in bars] == list(
        frame[["open", "high", "low", "close", "volume"]].itertuples(index=False, name=None)
    )
    assert len(five) == 78 and five[0].high == frame["high"].iloc[:5].max()
    # finer than the rows: the replayed prints themselves, a quarter of each row's volume at O, L/H, H/L, C
    last_rows = frame.iloc[-5:]
    assert len(fives) == 60 and sum(b.volume for b in fives) == last_rows["volume"].sum()
    assert {b.close for b in fives} <= set(last_rows[["open", "high", "low", "close"]].to_numpy().ravel())
    assert sim.control.price("AAPL") == frame["close"].iloc[-1]
    # the resting sell fills at its limit at the first replayed print at or above it (O, L, H, C by quarter)
    crossing = next(
        t + dt.timedelta(seconds=15 * k)
        for t, row in zip(day, frame.itertuples(), strict=True)
        for k, price in enumerate((row.open, row.low, row.high, row.close))
        if price >= 110.0
    )
    (fill,) = sell.fills
    assert (fill.execution.price, fill.execution.shares) == (110.0, 10)
    assert fill.execution.time == crossing.to_pydatetime()


async def test_day_orders_expire_at_the_close_on_the_virtual_clock() -> None:
    clock = VirtualClock(dt.datetime(2026, 11, 23, 20, 59, tzinfo=dt.UTC), running=False)
    async with SimServer(port=0, price_interval=0, clock=clock) as sim:
        ib = IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=1, timeout=2)
        try:
            (aapl,) = await qualified(ib, Stock("AAPL", "SMART", "USD"))
            day = ib.placeOrder(aapl, LimitOrder("BUY", 1, 150.0))
            gtc = ib.placeOrder(aapl, LimitOrder("BUY", 1, 150.0, tif="GTC"))
            await wait_until(ib, lambda: gtc.orderStatus.status == "Submitted")
            sim.control.advance(59)
            await round_trip(ib)
            assert day.orderStatus.status == "Submitted"
            sim.control.advance(2)  # 16:00 New York
            await wait_until(ib, lambda: day.orderStatus.status == "Cancelled")
            assert gtc.orderStatus.status == "Submitted"
        finally:
            ib.disconnect()


async def test_speed_factor_runs_bars_faster_than_the_wall() -> None:
    clock = VirtualClock(START, speed=600.0)  # ten minutes per second
    async with SimServer(port=0, clock=clock) as sim:
        ib = IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=1, timeout=2)
        try:
            (aapl,) = await qualified(ib, Stock("AAPL", "SMART", "USD"))
            bars = ib.reqRealTimeBars(aapl, 5, "MIDPOINT", False)
            assert isinstance(bars, RealTimeBarList)
            await wait_until(ib, lambda: len(bars) >= 24)  # two virtual minutes in ~0.2 s
            assert bars[1].time - bars[0].time == dt.timedelta(seconds=5)
            assert bars[0].volume == -1  # MIDPOINT has no volume
        finally:
            ib.disconnect()
