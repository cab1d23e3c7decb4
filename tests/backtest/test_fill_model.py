"""The backtest broker fills orders the way a trader expects from bars."""

from __future__ import annotations

import math

import pytest
from ulid import ULID

from mats.backtest import run
from mats.brokers import OrderRejected, validate_order
from mats.brokers.fill_model import fill_price
from mats.instruments import LocalInstrumentTable
from mats.model import OrderRequest, OrderState

from .scripted import Scripted, bars

FLAT = (100.0, 100.5, 99.5, 100.0)


def run_script(rows: list[tuple[float, float, float, float]], script: dict, **kwargs: object) -> Scripted:
    kwargs.setdefault("commission", 0.0)
    result = run(Scripted, {"AAPL": bars(rows)}, params={"script": script}, **kwargs)  # type: ignore[arg-type]
    strategy = result.strategies["scripted"]
    assert isinstance(strategy, Scripted)
    return strategy


def place(*args: object, **kwargs: object):
    return lambda s, bar: s.handles.append(s.place_order(*args, **kwargs))


def test_market_order_fills_at_the_next_bars_open() -> None:
    s = run_script([FLAT, (101.0, 102.0, 100.0, 101.5)], {0: place("AAPL", 10)})
    (fill,) = s.fills
    assert (fill.side.value, fill.qty, fill.price) == ("BUY", 10, 101.0)
    assert s.handles[0].status is OrderState.FILLED
    assert s.position("AAPL").qty == 10


def test_buy_limit_gapped_through_fills_at_the_better_open() -> None:
    s = run_script([FLAT, (98.0, 99.0, 97.0, 98.5)], {0: place("AAPL", 10, limit_price=99.5)})
    assert s.fills[0].price == 98.0


def test_buy_limit_touched_inside_the_bar_fills_at_the_limit() -> None:
    s = run_script([FLAT, (101.0, 101.5, 99.0, 100.0)], {0: place("AAPL", 10, limit_price=99.5)})
    assert s.fills[0].price == 99.5


def test_limit_not_reached_stays_open_through_the_day_then_a_day_order_expires() -> None:
    rows = [FLAT, (101.0, 102.0, 100.0, 101.0), (101.0, 102.0, 100.0, 101.0)]
    script = {0: place("AAPL", 10, limit_price=95.0)}
    same_day = run(Scripted, {"AAPL": bars(rows)}, params={"script": script}, commission=0.0)
    assert same_day.strategies["scripted"].handles[0].status is OrderState.SUBMITTED
    daily = run(Scripted, {"AAPL": bars(rows, freq="1D")}, params={"script": script}, commission=0.0)
    handle = daily.strategies["scripted"].handles[0]
    assert handle.status is OrderState.CANCELLED and "DAY" in handle.reason
    assert daily.fills.empty


def test_gtc_limit_waits_for_days_until_reached() -> None:
    rows = [FLAT, (101.0, 102.0, 100.0, 101.0), (99.0, 99.5, 94.0, 95.0)]
    result = run(
        Scripted,
        {"AAPL": bars(rows, freq="1D")},
        params={"script": {0: place("AAPL", 10, limit_price=96.0, tif="GTC")}},
        commission=0.0,
    )
    assert result.fills["price"].tolist() == [96.0]


def test_sell_stop_triggers_at_the_stop_or_at_a_gapped_open() -> None:
    inside = run_script(
        [FLAT, FLAT, (97.0, 97.5, 94.0, 95.0)], {0: place("AAPL", 10), 1: place("AAPL", -10, stop_price=95.0)}
    )
    assert [f.price for f in inside.fills] == [100.0, 95.0]
    gapped = run_script(
        [FLAT, FLAT, (93.0, 94.0, 92.0, 93.5)], {0: place("AAPL", 10), 1: place("AAPL", -10, stop_price=95.0)}
    )
    assert [f.price for f in gapped.fills] == [100.0, 93.0]


def test_buy_stop_limit_fills_at_trigger_only_within_the_limit() -> None:
    s = run_script(
        [FLAT, (100.0, 103.0, 99.0, 102.0)], {0: place("AAPL", 10, limit_price=101.5, stop_price=101.0)}
    )
    assert s.fills[0].price == 101.0


def test_ioc_limit_not_marketable_at_the_open_is_cancelled() -> None:
    s = run_script(
        [FLAT, (101.0, 101.5, 98.0, 100.0), FLAT], {0: place("AAPL", 10, limit_price=99.0, tif="IOC")}
    )
    assert s.fills == []
    assert s.handles[0].status is OrderState.CANCELLED
    assert "IOC" in s.statuses[-1].reason


def test_cancel_before_the_next_bar_means_no_fill() -> None:
    s = run_script(
        [FLAT, FLAT, FLAT], {0: place("AAPL", 10, limit_price=99.9), 1: lambda s, b: s.handles[0].cancel()}
    )
    # bar 1 reached 99.5 but the order was placed at bar 0 and filled at bar 1 — so cancel a far limit instead
    assert s.handles[0].status is OrderState.FILLED
    far = run_script(
        [FLAT, FLAT, FLAT], {0: place("AAPL", 10, limit_price=90.0), 1: lambda s, b: s.handles[0].cancel()}
    )
    assert far.handles[0].status is OrderState.CANCELLED and far.fills == []
    assert [st.state for st in far.statuses] == [OrderState.SUBMITTED, OrderState.CANCELLED]
    assert far.open_orders() == []


def test_modify_moves_the_limit_so_it_fills() -> None:
    def reprice(s: Scripted, bar: object) -> None:
        s.handles[0].modify(limit_price=99.6)

    s = run_script(
        [FLAT, (101.0, 101.0, 100.0, 100.5), FLAT], {0: place("AAPL", 10, limit_price=90.0), 1: reprice}
    )
    assert s.fills[0].price == 99.6
    with pytest.raises(OrderRejected, match="already Filled"):
        s.handles[0].modify(limit_price=99.0)


def test_ib_like_commission_has_a_one_dollar_minimum() -> None:
    s = run_script([FLAT, FLAT, FLAT], {0: place("AAPL", 10), 1: place("AAPL", 1000)}, commission=None)
    assert [f.commission for f in s.fills] == [1.0, pytest.approx(5.0)]


def test_slippage_makes_market_fills_worse() -> None:
    s = run_script([FLAT, FLAT], {0: place("AAPL", 10)}, slippage=0.001)
    assert s.fills[0].price == pytest.approx(100.1)


def test_limit_price_is_rounded_to_the_min_tick() -> None:
    s = run_script([FLAT, (90.0, 91.0, 89.0, 90.0)], {0: place("AAPL", 10, limit_price=95.126)})
    assert s.handles[0].limit_price == 95.13
    ref = s.handles[0].order_ref
    assert ref.startswith("mats:scripted:")
    placed_at = bars([FLAT]).index[0]  # placed while bar 0 was the latest
    assert ULID.from_str(ref.rsplit(":", 1)[1]).milliseconds == placed_at.value // 1_000_000


@pytest.mark.parametrize(
    ("qty", "kwargs", "message"),
    [
        (0, {}, "qty must be a non-zero finite number, got 0"),
        (math.nan, {}, "qty must be a non-zero finite number, got nan"),
        (math.inf, {}, "qty must be a non-zero finite number, got inf"),
        ("10", {}, "qty must be a non-zero finite number, got '10'"),
        (10, {"limit_price": -1.0}, "limit_price must be a positive finite number, got -1.0"),
        (10, {"stop_price": math.nan}, "stop_price must be a positive finite number, got nan"),
        (10, {"tif": "FOK"}, "tif must be one of DAY, GTC, IOC, got 'FOK'"),
    ],
)
def test_invalid_orders_are_rejected_saying_what_was_wrong(qty: object, kwargs: dict, message: str) -> None:
    errors: list[str] = []

    def attempt(s: Scripted, bar: object) -> None:
        try:
            s.place_order("AAPL", qty, **kwargs)  # type: ignore[arg-type]
        except OrderRejected as exc:
            errors.append(exc.reason)

    run_script([FLAT, FLAT], {0: attempt})
    assert errors == [message]


def test_unknown_instrument_is_rejected_naming_it() -> None:
    errors: list[str] = []

    def attempt(s: Scripted, bar: object) -> None:
        for spec in ("APPL", "MSFT"):  # a typo, and a known stock without bars in this backtest
            try:
                s.place_order(spec, 1)
            except OrderRejected as exc:
                errors.append(exc.reason)

    run_script([FLAT, FLAT], {0: attempt})
    assert "unknown instrument 'APPL'" in errors[0]
    assert "no bars for MSFT" in errors[1]


class _Bar:
    def __init__(self, o: float, h: float, low: float, c: float) -> None:
        self.time_ns, self.open, self.high, self.low, self.close = 0, o, h, low, c


def _request(qty: float, limit: float | None = None, stop: float | None = None) -> OrderRequest:
    inst = LocalInstrumentTable().resolve("AAPL")
    return validate_order("s", inst, qty, limit_price=limit, stop_price=stop)


@pytest.mark.parametrize(
    ("request_", "bar", "expected"),
    [
        (_request(10, stop=101.0), _Bar(100, 102, 99, 101), (101.0, True)),  # buy stop inside the bar
        (_request(10, stop=101.0), _Bar(103, 104, 102, 103), (103.0, True)),  # buy stop gapped: the open
        (_request(-10, limit=99.0, stop=100.0), _Bar(98, 99, 97, 98), (None, True)),  # triggered below limit
        (_request(-10, limit=99.0, stop=100.0), _Bar(101, 101, 99.5, 100), (100.0, True)),
        (_request(-10, limit=105.0), _Bar(106, 107, 104, 105), (106.0, False)),  # sell limit gapped up
        (_request(-10, limit=105.0), _Bar(100, 104.9, 99, 101), (None, False)),
    ],
)
def test_fill_prices_of_stops_and_limits(
    request_: OrderRequest, bar: _Bar, expected: tuple[float | None, bool]
) -> None:
    assert fill_price(request_, bar, triggered=False, slippage=0.0) == expected
