"""Orders and executions as the simulated exchange keeps them, and the frozen views it hands to sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from .codec import UNSET_DOUBLE
from .contracts import ContractSpec

#: clientId shown for orders typed into TWS by hand (they belong to no API client).
MANUAL_CLIENT_ID = 0


class Status(StrEnum):
    """IB's order statuses, spelled exactly as on the wire."""

    PENDING_SUBMIT = "PendingSubmit"
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    PENDING_CANCEL = "PendingCancel"
    CANCELLED = "Cancelled"
    FILLED = "Filled"
    INACTIVE = "Inactive"


DONE = frozenset({Status.CANCELLED, Status.FILLED, Status.INACTIVE})
SUPPORTED_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT"})
SUPPORTED_TIFS = frozenset({"DAY", "GTC", "IOC"})


@dataclass(frozen=True, slots=True)
class OrderTicket:
    """What a placeOrder asked for: the fields the simulator acts on, plus why it cannot act, if so."""

    action: str
    total_quantity: Decimal
    order_type: str
    lmt_price: float = UNSET_DOUBLE
    aux_price: float = UNSET_DOUBLE
    tif: str = "DAY"
    oca_group: str = ""
    account: str = ""
    open_close: str = "O"
    origin: int = 0
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    good_after_time: str = ""
    good_till_date: str = ""
    oca_type: int = 0
    trail_stop_price: float = UNSET_DOUBLE
    trailing_percent: float = UNSET_DOUBLE
    what_if: bool = False
    cash_qty: float = UNSET_DOUBLE
    model_code: str = ""
    unsupported: str = ""

    @property
    def side_sign(self) -> int:
        return 1 if self.action == "BUY" else -1


@dataclass(slots=True)
class SimOrder:
    """A working or finished order; mutated only by the exchange."""

    client_id: int
    order_id: int
    perm_id: int
    contract: ContractSpec
    ticket: OrderTicket
    status: Status = Status.PENDING_SUBMIT
    filled: Decimal = Decimal(0)
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    commission: float = 0.0
    triggered: bool = False
    rested: bool = False  # once resting, a crossed limit fills at the limit, not the better mark
    completed_time: str = ""
    completed_status: str = ""
    why_held: str = ""
    exec_ids: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return max(self.ticket.total_quantity - self.filled, Decimal(0))

    @property
    def is_done(self) -> bool:
        return self.status in DONE

    @property
    def is_manual(self) -> bool:
        return self.order_id <= 0

    def view(self) -> OrderView:
        return OrderView(
            client_id=self.client_id,
            order_id=self.order_id,
            perm_id=self.perm_id,
            contract=self.contract,
            ticket=self.ticket,
            status=self.status,
            filled=self.filled,
            remaining=self.remaining,
            avg_fill_price=self.avg_fill_price,
            last_fill_price=self.last_fill_price,
            commission=self.commission,
            completed_time=self.completed_time,
            completed_status=self.completed_status,
            why_held=self.why_held,
        )


@dataclass(frozen=True, slots=True)
class OrderView:
    """A snapshot of an order at one event, so later changes cannot leak into messages already queued."""

    client_id: int
    order_id: int
    perm_id: int
    contract: ContractSpec
    ticket: OrderTicket
    status: Status
    filled: Decimal
    remaining: Decimal
    avg_fill_price: float
    last_fill_price: float
    commission: float
    completed_time: str = ""
    completed_status: str = ""
    why_held: str = ""

    @property
    def is_manual(self) -> bool:
        return self.order_id <= 0


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill as IB reports it; execId is base + '.NN' revision."""

    exec_id: str
    time: str
    account: str
    exchange: str
    side: str
    shares: Decimal
    price: float
    perm_id: int
    client_id: int
    order_id: int
    cum_qty: Decimal
    avg_price: float
    order_ref: str
    contract: ContractSpec
    model_code: str = ""
    last_liquidity: int = 2


@dataclass(frozen=True, slots=True)
class CommissionReport:
    """Commission for one execution, with the realized PnL it closed (None when it opened a position)."""

    exec_id: str
    commission: float
    currency: str
    realized_pnl: float | None
