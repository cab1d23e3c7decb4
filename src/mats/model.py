"""Domain messages shared by every layer: market data, orders, fills, positions, strategy specs.

Everything here is a frozen ``msgspec.Struct`` so it can cross an actor mailbox, be journaled and be
sent over the API without copying or defensive checks. Commands and events of the engine live in
``mats.messages``; this module holds the nouns they carry.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NewType

import msgspec

StrategyId = NewType("StrategyId", str)
ConId = NewType("ConId", int)
OrderRef = NewType("OrderRef", str)
ExecId = NewType("ExecId", str)

DISCRETIONARY = StrategyId("Discretionary")
ORDER_REF_PREFIX = "mats:"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @classmethod
    def of(cls, signed_qty: float) -> Side:
        return cls.BUY if signed_qty > 0 else cls.SELL

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"


class OrderState(StrEnum):
    """Lifecycle of an order as MATS tracks it (IB's statuses mapped onto fewer, clearer ones)."""

    PENDING = "PendingSubmit"  # accepted by MATS, journaled, not yet acknowledged by IB
    SUBMITTED = "Submitted"
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"

    @property
    def is_done(self) -> bool:
        return self in (OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED)


class Bar(msgspec.Struct, frozen=True):
    """One OHLCV bar; ``time`` is the bar's open, tz-aware UTC."""

    symbol: str
    time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


class Tick(msgspec.Struct, frozen=True):
    symbol: str
    time: datetime
    bid: float = math.nan
    ask: float = math.nan
    last: float = math.nan
    size: float = 0.0


class OrderRequest(msgspec.Struct, frozen=True):
    """What a strategy asked for; ``qty`` is signed (+ buy, - sell)."""

    strategy_id: StrategyId
    symbol: str
    qty: float
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    tif: TimeInForce = TimeInForce.DAY
    con_id: ConId | None = None

    @property
    def side(self) -> Side:
        return Side.of(self.qty)


class OrderStatus(msgspec.Struct, frozen=True):
    """An order's state at one moment, keyed by ``order_ref``."""

    order_ref: OrderRef
    strategy_id: StrategyId
    symbol: str
    state: OrderState
    qty: float  # signed, as requested
    filled: float = 0.0  # unsigned
    remaining: float = 0.0  # unsigned
    avg_fill_price: float = 0.0
    perm_id: int | None = None
    reason: str = ""
    at: datetime | None = None


class Fill(msgspec.Struct, frozen=True):
    """One execution. ``exec_id`` = base + "." + revision; a higher revision of a base corrects it."""

    exec_id: ExecId
    order_ref: str
    strategy_id: StrategyId
    con_id: ConId
    symbol: str
    side: Side
    qty: float  # unsigned, as IB reports shares
    price: float
    exec_time: datetime
    perm_id: int | None = None
    commission: float | None = None
    currency: str = "USD"
    multiplier: float = 1.0

    @property
    def signed_qty(self) -> float:
        return self.qty * self.side.sign

    @property
    def base_exec_id(self) -> str:
        return split_exec_id(self.exec_id)[0]

    @property
    def revision(self) -> int:
        return split_exec_id(self.exec_id)[1]


class CommissionReport(msgspec.Struct, frozen=True):
    exec_id: ExecId
    commission: float
    currency: str = "USD"
    realized_pnl: float | None = None


class Position(msgspec.Struct, frozen=True):
    strategy_id: StrategyId
    con_id: ConId
    symbol: str
    qty: float
    avg_cost: float  # per unit of price (not multiplied)
    realized_pnl: float = 0.0
    currency: str = "USD"
    multiplier: float = 1.0


class Booking(msgspec.Struct, frozen=True):
    """An operator's attribution of a break to a strategy or to Discretionary (DESIGN section 5).

    It moves no shares at IB; it tells MATS who owns shares IB already reports. ``qty`` is signed.
    """

    booking_id: str
    con_id: ConId
    symbol: str
    strategy_id: StrategyId
    qty: float
    price: float
    by: str
    reason: str
    at: datetime
    currency: str = "USD"
    multiplier: float = 1.0

    def as_fill(self) -> Fill:
        return Fill(
            exec_id=ExecId(f"booking:{self.booking_id}"),
            order_ref="booking",
            strategy_id=self.strategy_id,
            con_id=self.con_id,
            symbol=self.symbol,
            side=Side.of(self.qty),
            qty=abs(self.qty),
            price=self.price,
            exec_time=self.at,
            commission=0.0,
            currency=self.currency,
            multiplier=self.multiplier,
        )


Limit = Annotated[float, msgspec.Meta(ge=0.0)]
Count = Annotated[int, msgspec.Meta(ge=0)]


class StrategyRisk(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One strategy's own limits (``[[strategies]] risk = {...}``); 0 or empty leaves a limit to ``[risk]``.

    The account's ``[risk]`` limits apply to every strategy as well: where both are set, the tighter
    one refuses. Only ``allowed_symbols`` has no account-wide counterpart.
    """

    allowed_symbols: list[str] = msgspec.field(default_factory=list)  # empty: any instrument
    max_order_qty: Limit = 0.0
    max_order_notional: Limit = 0.0
    price_collar_pct: Limit = 0.0
    max_position: Limit = 0.0
    max_open_orders: Count = 0
    max_orders_per_minute: Count = 0
    daily_loss_limit: Limit = 0.0
    daily_loss_halt: Limit = 0.0

    def __post_init__(self) -> None:
        check_daily_loss_steps(self.daily_loss_limit, self.daily_loss_halt)
        if any(not symbol.strip() for symbol in self.allowed_symbols):
            raise ValueError(f"allowed_symbols must not hold empty names, got {self.allowed_symbols!r}")


def check_daily_loss_steps(limit: float, halt: float) -> None:
    """Reducing-only comes before halted: a halt threshold below the reducing one would skip a step."""
    if limit and halt and halt < limit:
        raise ValueError(
            f"daily_loss_halt ({halt:g}) must be at least daily_loss_limit ({limit:g}): "
            "a strategy becomes reducing-only first, then halted"
        )


class StrategySpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A registered strategy, as in ``[[strategies]]`` and ``POST /api/strategies``."""

    strategy_id: str
    cls: str
    symbols: list[str | dict[str, Any]] = msgspec.field(default_factory=list)
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    target_weight: float = 0.0
    equity: float | None = None
    bar_size: str = "1min"
    autostart: bool = False
    client_id: int | None = None
    risk: StrategyRisk = msgspec.field(default_factory=StrategyRisk)

    def __post_init__(self) -> None:
        if not self.strategy_id or not self.strategy_id.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"strategy_id must be letters, digits, '_' or '-', got {self.strategy_id!r}")
        if self.strategy_id == DISCRETIONARY:
            raise ValueError("strategy_id 'Discretionary' is reserved for unattributed positions")
        if ":" not in self.cls:
            raise ValueError(f"cls must look like 'strategies.module:Class', got {self.cls!r}")
        if not (0.0 <= self.target_weight <= 1.0) or math.isnan(self.target_weight):
            raise ValueError(f"target_weight must be within [0, 1], got {self.target_weight}")
        if self.equity is not None and (not math.isfinite(self.equity) or self.equity < 0):
            raise ValueError(f"equity must be a non-negative finite number, got {self.equity}")


def split_exec_id(exec_id: str) -> tuple[str, int]:
    """IB execIds end in a revision segment (``0001f4e8.6543.01``); a later revision corrects the base."""
    base, dot, last = exec_id.rpartition(".")
    if dot and last.isdigit():
        return base, int(last)
    return exec_id, 0


def make_order_ref(strategy_id: str, client_order_id: str) -> OrderRef:
    return OrderRef(f"{ORDER_REF_PREFIX}{strategy_id}:{client_order_id}")


def strategy_of_order_ref(order_ref: str | None) -> StrategyId:
    """The owning strategy of an orderRef; anything not placed by MATS belongs to Discretionary."""
    if order_ref and order_ref.startswith(ORDER_REF_PREFIX):
        rest = order_ref[len(ORDER_REF_PREFIX) :]
        sid, sep, _ = rest.rpartition(":")
        if sep and sid:
            return StrategyId(sid)
    return DISCRETIONARY
