"""Bars aligned to XNYS sessions with the real calendar: the 09:30 open, a half day, a holiday, a weekend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mats.marketdata import BarAggregator, load_sessions, parse_bar_size
from mats.marketdata.feed import market_open
from mats.marketdata.sessions import Sessions
from mats.model import Bar

HOUR, DAY = 3600, 86_400


@pytest.fixture(scope="module")
def xnys() -> Sessions:
    sessions = load_sessions("XNYS")
    assert sessions is not None
    return sessions


def feed(agg: BarAggregator, start: datetime, end: datetime, step: int = 5) -> list[tuple[datetime, Bar]]:
    """5-second bars from ``start`` to ``end`` every ``step`` seconds, price = minutes since ``start``;
    returns each completed bar with the start of the 5-second bar that completed it."""
    out = []
    t = start
    while t < end:
        px = (t - start).total_seconds() / 60
        out += [(t, bar) for bar in agg.add(t, px, px + 1, px - 1, px, 1.0)]
        t += timedelta(seconds=step)
    return out


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def test_hourly_bars_start_at_the_0930_open_and_the_last_one_ends_at_the_close(xnys: Sessions) -> None:
    agg = BarAggregator("AAPL", parse_bar_size("1h"), xnys)
    # Monday 23 November 2026: 09:30–16:00 New York = 14:30–21:00 UTC
    done = feed(agg, utc(23, 14, 30), utc(23, 21, 0))
    assert [bar.time for _, bar in done] == [utc(23, 14, 30) + timedelta(hours=h) for h in range(7)]
    assert [emitted for emitted, _ in done] == [
        utc(23, 15, 29, 55) + timedelta(hours=h) for h in range(6)
    ] + [utc(23, 20, 59, 55)]
    assert [bar.volume for _, bar in done] == [720.0] * 6 + [360.0]  # the last is the half hour to 16:00
    last = done[-1][1]
    assert (last.open, last.close) == (360.0, 389 + 11 / 12)


def test_on_the_half_day_after_thanksgiving_the_daily_bar_closes_at_1300(xnys: Sessions) -> None:
    daily = BarAggregator("AAPL", parse_bar_size("1d"), xnys)
    hourly = BarAggregator("AAPL", HOUR, xnys)
    # Friday 27 November 2026 closes at 13:00 New York = 18:00 UTC; IB also sends pre- and post-market bars
    start = utc(27, 13, 0)
    done = feed(daily, start, utc(27, 19, 0))
    [(emitted, bar)] = done
    assert (bar.time, emitted) == (utc(27, 14, 30), utc(27, 17, 59, 55))
    assert (bar.open, bar.close, bar.volume) == (90.0, 299 + 11 / 12, 3.5 * 720)  # 14:30 to 17:59:55 only
    hours = feed(hourly, utc(27, 14, 30), utc(27, 18, 0))
    assert [(b.time, b.volume) for _, b in hours] == [
        (utc(27, 14, 30), 720.0),
        (utc(27, 15, 30), 720.0),
        (utc(27, 16, 30), 720.0),
        (utc(27, 17, 30), 360.0),
    ]


def test_a_week_with_a_holiday_and_a_weekend_has_one_daily_bar_per_session(xnys: Sessions) -> None:
    agg = BarAggregator("AAPL", DAY, xnys)
    # Wednesday 25 to Monday 30 November 2026, a bar every 5 minutes around the clock (as if extended hours)
    done = feed(agg, utc(25, 0, 0), utc(30, 23, 55), step=300)
    assert [bar.time for _, bar in done] == [utc(25, 14, 30), utc(27, 14, 30), utc(30, 14, 30)]
    # Thursday is Thanksgiving, Saturday and Sunday are closed; each bar leaves with the first bar after it
    assert [emitted for emitted, _ in done] == [utc(25, 21, 0), utc(27, 18, 0), utc(30, 21, 0)]
    assert [bar.volume for _, bar in done] == [78.0, 42.0, 78.0]  # 6.5 h, 3.5 h and 6.5 h of 5-minute bars


def test_a_quiet_close_is_flushed_once_its_end_has_passed(xnys: Sessions) -> None:
    agg = BarAggregator("AAPL", HOUR, xnys)
    assert feed(agg, utc(23, 20, 30), utc(23, 20, 45)) == []  # nothing trades after 15:45
    assert agg.flush(utc(23, 20, 59, 59)) == []
    [bar] = agg.flush(utc(23, 21, 0))
    assert (bar.time, bar.volume) == (utc(23, 20, 30), 180.0)
    assert agg.flush(utc(23, 21, 5)) == []


def test_without_a_calendar_hourly_bars_follow_the_clock() -> None:
    agg = BarAggregator("EUR.USD", HOUR)
    done = feed(agg, utc(23, 14, 30), utc(23, 16, 0))
    assert [bar.time for _, bar in done] == [utc(23, 14), utc(23, 15)]


def test_sessions_know_holidays_and_half_days(xnys: Sessions) -> None:
    at = lambda t: xnys.session_at(int(t.timestamp()))  # noqa: E731
    assert at(utc(26, 16)) is None  # Thanksgiving
    assert at(utc(28, 16)) is None  # Saturday
    assert at(utc(27, 17, 59, 59)) == (int(utc(27, 14, 30).timestamp()), int(utc(27, 18).timestamp()))
    assert at(utc(27, 18)) is None
    assert load_sessions("24/5") is None


def test_the_stale_data_watchdog_knows_a_closed_market_without_touching_the_calendar_on_the_loop(
    xnys: Sessions,
) -> None:
    assert market_open("XNYS", utc(23, 15))  # Monday 10:00 New York
    assert not market_open("XNYS", utc(26, 15))  # Thanksgiving: quiet by design, no alert
    assert not market_open("XNYS", utc(28, 15))  # Saturday
    assert not market_open("XNYS", utc(27, 18, 30))  # after the half day's 13:00 close
    assert not market_open("24/5", utc(28, 15)) and market_open("24/5", utc(27, 23))
    assert market_open("XTKS", utc(28, 15))  # never loaded here: counts as open rather than silence
