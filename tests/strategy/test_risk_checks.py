"""The pre-trade checks on their own: each limit refuses the right order, names its key and the numbers,
and the counters they read follow orders from admission to their end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from mats.config import RiskSettings, SettingsError, load_settings
from mats.daily_loss import DailyLossGuard
from mats.instruments import Instrument
from mats.model import (
    ConId,
    OrderRef,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    StrategyId,
    StrategyRisk,
    StrategySpec,
)
from mats.risk import RiskState, admit, check_order

AAPL = Instrument(ConId(265598), "AAPL", local_symbol="AAPL")
OFF = RiskSettings(max_order_qty=0, max_order_notional=0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def order(
    qty: float, *, sid: str = "s", limit: float | None = None, stop: float | None = None
) -> OrderRequest:
    kind = (
        OrderType.STOP_LIMIT
        if limit is not None and stop is not None
        else OrderType.LIMIT
        if limit is not None
        else OrderType.STOP
        if stop is not None
        else OrderType.MARKET
    )
    return OrderRequest(StrategyId(sid), "AAPL", qty, kind, limit, stop, con_id=AAPL.con_id)


def state(
    limits: RiskSettings = OFF,
    own: StrategyRisk | None = None,
    *,
    held: float = 0.0,
    last: float | None = 100.0,
    clock: Clock | None = None,
) -> RiskState:
    position = Position(StrategyId("s"), AAPL.con_id, "AAPL", held, 100.0)
    return RiskState(
        limits,
        price_of=lambda con_id: last,
        position_of=lambda sid, con_id: position if sid == "s" else None,
        strategy_limits=lambda sid: own if sid == "s" else None,
        clock=clock or Clock(),
    )


def status(ref: str, state_: OrderState, remaining: float, qty: float = 10) -> OrderStatus:
    return OrderStatus(OrderRef(ref), StrategyId("s"), "AAPL", state_, qty, remaining=remaining)


def test_the_tighter_of_the_account_and_the_strategy_limit_refuses_and_is_named() -> None:
    loose_account = state(msgspec.structs.replace(OFF, max_order_qty=100), StrategyRisk(max_order_qty=10))
    assert check_order(loose_account, order(20), AAPL) == (
        "order quantity 20 exceeds strategies[s].risk.max_order_qty 10"
    )
    tight_account = state(msgspec.structs.replace(OFF, max_order_qty=5), StrategyRisk(max_order_qty=10))
    assert check_order(tight_account, order(8), AAPL) == "order quantity 8 exceeds risk.max_order_qty 5"
    assert check_order(tight_account, order(5), AAPL) is None


def test_a_limit_or_stop_price_too_far_from_the_last_price_is_refused() -> None:
    collared = state(msgspec.structs.replace(OFF, price_collar_pct=10.0), last=100.0)
    assert check_order(collared, order(1, limit=109.0), AAPL) is None
    assert check_order(collared, order(1, limit=89.0), AAPL) == (
        "limit price 89 is 11.0% from the last price 100, beyond risk.price_collar_pct 10%"
    )
    assert "stop price 120 is 20.0%" in (check_order(collared, order(-1, stop=120.0), AAPL) or "")
    assert check_order(collared, order(1), AAPL) is None  # a market order has no price to collar
    no_price_yet = state(msgspec.structs.replace(OFF, price_collar_pct=10.0), last=None)
    assert check_order(no_price_yet, order(1, limit=50.0), AAPL) is None


def test_max_position_counts_the_position_held_and_the_orders_working_on_the_same_side() -> None:
    risk = state(msgspec.structs.replace(OFF, max_position=100), held=60)
    assert admit(risk, order(30), AAPL, "a") is None  # 60 held + 30 working
    assert check_order(risk, order(20), AAPL) == (
        "AAPL position would reach 110 (held 60, working +30, this order +20), beyond risk.max_position 100"
    )
    assert check_order(risk, order(-200), AAPL) is not None  # a flip to -140 is beyond it too
    assert check_order(risk, order(-60), AAPL) is None  # reducing is always allowed
    risk.order_status(status("a", OrderState.PARTIALLY_FILLED, remaining=5, qty=30))
    assert risk.working_qty[("s", AAPL.con_id)] == [5.0, 0.0]
    assert check_order(risk, order(20), AAPL) is None  # held 60 + working 5 + 20 (fills not yet booked)
    risk.order_status(status("a", OrderState.CANCELLED, remaining=0, qty=30))
    assert risk.working_qty[("s", AAPL.con_id)] == [0.0, 0.0] and risk.open_orders["s"] == 0


def test_max_open_orders_counts_orders_until_they_are_done() -> None:
    risk = state(msgspec.structs.replace(OFF, max_open_orders=2))
    assert admit(risk, order(1, limit=90.0), AAPL, "a") is None
    assert admit(risk, order(1, limit=90.0), AAPL, "b") is None
    assert admit(risk, order(1, limit=90.0), AAPL, "c") == "s has 2 open orders, risk.max_open_orders is 2"
    risk.order_status(status("a", OrderState.FILLED, remaining=0))
    risk.order_status(status("a", OrderState.FILLED, remaining=0))  # a second report changes nothing
    assert admit(risk, order(1, limit=90.0), AAPL, "c") is None
    assert risk.open_orders["s"] == 2


def test_the_order_rate_is_measured_over_the_last_sixty_seconds() -> None:
    clock = Clock()
    risk = state(msgspec.structs.replace(OFF, max_orders_per_minute=3), clock=clock)
    for ref in "abc":
        assert admit(risk, order(1), AAPL, ref) is None
        clock.now += 10
    assert admit(risk, order(1), AAPL, "d") == (
        "s sent 3 orders in the last minute, risk.max_orders_per_minute is 3"
    )
    clock.now += 31  # the first one is now 61 s old
    assert admit(risk, order(1), AAPL, "d") is None


def test_allowed_symbols_refuse_other_instruments_of_that_strategy_only() -> None:
    risk = state(own=StrategyRisk(allowed_symbols=["MSFT"]))
    assert check_order(risk, order(1), AAPL) == "AAPL is not in strategies[s].risk.allowed_symbols MSFT"
    assert check_order(risk, order(1, sid="other"), AAPL) is None


def test_reducing_only_lets_through_what_shrinks_the_position_and_nothing_else() -> None:
    long = state(held=10)
    long.reducing_only["s"] = "daily loss -150.00 reached risk.daily_loss_limit 100.00"
    assert check_order(long, order(-4), AAPL) is None
    assert check_order(long, order(-10), AAPL) is None  # to flat
    assert check_order(long, order(-15), AAPL) == (
        "s is reducing-only (daily loss -150.00 reached risk.daily_loss_limit 100.00): "
        "this order would take AAPL from 10 to -5"
    )
    assert check_order(long, order(1), AAPL) is not None
    assert admit(long, order(-8), AAPL, "a") is None
    assert "from 10 to -1" in (check_order(long, order(-3), AAPL) or "")  # the working sell counts
    flat = state(held=0)
    flat.reducing_only["s"] = "daily loss"
    assert check_order(flat, order(-1), AAPL) is not None


def test_a_strategy_risk_table_with_a_typo_or_a_halt_below_the_limit_is_refused_naming_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `max_positon`"):
        msgspec.convert({"strategy_id": "a", "cls": "m:C", "risk": {"max_positon": 5}}, StrategySpec)
    config = tmp_path / "mats.toml"
    config.write_text("[risk]\ndaily_loss_limit = 500.0\ndaily_loss_halt = 200.0\n")
    with pytest.raises(SettingsError, match=r"risk: daily_loss_halt \(200\) must be at least"):
        load_settings(config, environ={})
    spec = msgspec.convert(
        {"strategy_id": "a", "cls": "m:C", "risk": {"max_position": 100, "allowed_symbols": ["AAPL"]}},
        StrategySpec,
    )
    assert spec.risk == StrategyRisk(max_position=100, allowed_symbols=["AAPL"])


async def test_daily_loss_makes_a_strategy_reducing_only_then_halts_it_and_the_reset_lifts_it() -> None:
    pnl = {"s": -20.0}
    halted: list[tuple[str, str]] = []

    async def halt(sid: str, reason: str) -> None:
        halted.append((sid, reason))

    risk = state(msgspec.structs.replace(OFF, daily_loss_limit=100, daily_loss_halt=300))
    guard = DailyLossGuard(risk, lambda: pnl, halt, reset="17:00", tz="America/New_York")
    morning = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York
    await guard.check(morning)  # the day starts at -20 (yesterday's losses are not today's)
    pnl["s"] = -130.0
    await guard.check(morning)
    assert risk.reducing_only == {"s": "daily loss -110.00 reached risk.daily_loss_limit 100.00"}
    assert not halted
    pnl["s"] = -330.0
    await guard.check(morning)
    await guard.check(morning)
    assert halted == [("s", "daily loss -310.00 reached risk.daily_loss_halt 300.00")]  # once
    evening = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)  # 17:30 New York: a new day
    await guard.check(evening)
    assert risk.reducing_only == {} and guard.daily["s"] == 0.0


async def test_a_restart_mid_day_keeps_counting_the_days_loss_and_the_next_day_starts_afresh(
    tmp_path: Path,
) -> None:
    pnl = {"s": -20.0}
    halted: list[tuple[str, str]] = []

    async def halt(sid: str, reason: str) -> None:
        halted.append((sid, reason))

    def guard() -> tuple[RiskState, DailyLossGuard]:
        risk = state(msgspec.structs.replace(OFF, daily_loss_limit=100, daily_loss_halt=300))
        kept = tmp_path / "daily_loss.json"
        return risk, DailyLossGuard(
            risk, lambda: pnl, halt, reset="17:00", tz="America/New_York", state_file=kept
        )

    morning = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York: the day starts at -20
    _, before = guard()
    await before.check(morning)
    pnl["s"] = -90.0
    await before.check(morning)
    assert before.daily["s"] == -70.0

    noon = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # the engine restarts
    pnl["s"] = -140.0
    risk, after = guard()
    await after.check(noon)
    assert after.daily["s"] == -120.0  # measured from this morning, not from the restart
    assert "daily loss -120.00" in risk.reducing_only["s"]

    tomorrow = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # restarted again, a day later
    risk, next_day = guard()
    await next_day.check(tomorrow)
    assert next_day.daily["s"] == 0.0 and not risk.reducing_only
