"""5-second bars aggregate into strategy bars exactly, on clock boundaries, with gaps handled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mats.marketdata import BarAggregator, parse_bar_size

T0 = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def five(i: int) -> datetime:
    return T0 + timedelta(seconds=5 * i)


def test_twelve_five_second_bars_make_one_minute_bar_emitted_with_the_last_of_them() -> None:
    agg = BarAggregator("AAPL", 60)
    out = []
    for i in range(12):
        px = 100.0 + i
        done = agg.add(five(i), px, px + 0.5, px - 0.25, px + 0.1, 10)
        assert done == [] or i == 11
        out += done
    [bar] = out
    assert (bar.symbol, bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        "AAPL", T0, 100.0, 111.5, 99.75, 111.1, 120.0,
    )  # fmt: skip


def test_a_missing_last_five_second_bar_closes_the_minute_when_the_next_one_starts() -> None:
    agg = BarAggregator("MSFT", 60)
    for i in range(11):  # no trade in the last 5 s of the minute
        assert agg.add(five(i), 50.0, 50.0, 50.0, 50.0, 1) == []
    [late] = agg.add(five(12), 51.0, 51.0, 51.0, 51.0, 2)
    assert (late.time, late.close, late.volume) == (T0, 50.0, 11.0)
    [second] = [b for i in range(13, 24) for b in agg.add(five(i), 52.0, 52.0, 52.0, 52.0, 1)]
    assert (second.time, second.open, second.close, second.volume) == (
        T0 + timedelta(minutes=1),
        51.0,
        52.0,
        13.0,
    )


def test_five_second_strategy_bars_pass_straight_through() -> None:
    agg = BarAggregator("EUR.USD", 5)
    [bar] = agg.add(five(3), 1.1, 1.2, 1.0, 1.15, 0)
    assert (bar.time, bar.open, bar.close) == (five(3), 1.1, 1.15)


@pytest.mark.parametrize(("text", "seconds"), [("5s", 5), ("1min", 60), ("15 mins", 900), ("1h", 3600)])
def test_bar_sizes_parse(text: str, seconds: int) -> None:
    assert parse_bar_size(text) == seconds


@pytest.mark.parametrize("text", ["7s", "1 fortnight", "", "0min", "7min"])
def test_bad_bar_sizes_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="bar_size"):
        parse_bar_size(text)
