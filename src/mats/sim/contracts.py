"""The simulator's security master: a few instruments of each kind MATS trades, and request matching."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

US_STOCK_HOURS = "{d}:0400-{d}:2000"
US_STOCK_LIQUID = "{d}:0930-{d}:1600"


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """One tradable instrument as the simulator knows it (a row of IB's security master)."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    long_name: str
    start_price: float
    min_tick: float = 0.01
    multiplier: str = ""
    last_trade_date: str = ""
    valid_exchanges: str = ""
    time_zone: str = "US/Eastern"
    industry: str = ""
    category: str = ""
    market_rule_id: int = 26
    order_types: str = "ACTIVETIM,AD,ADJUST,ALERT,GAT,GTC,GTD,IOC,LIT,LMT,MIT,MKT,STP,STPLMT,TRAIL,WHATIF"

    @property
    def multiplier_value(self) -> float:
        """How much one unit of quantity times one unit of price is worth."""
        return float(self.multiplier) if self.multiplier else 1.0

    @property
    def contract_month(self) -> str:
        return self.last_trade_date[:6]


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """The contract12 block of a request; empty or zero fields match anything."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""


def front_quarter_expiry(today: dt.date) -> dt.date:
    """Third Friday of the next quarterly month (Mar/Jun/Sep/Dec) that is at least a week away."""
    year, month = today.year, today.month
    while True:
        if month % 3 == 0:
            first = dt.date(year, month, 1)
            friday = first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)
            if friday - today >= dt.timedelta(days=7):
                return friday
        month += 1
        if month > 12:
            year, month = year + 1, 1


def default_contracts(today: dt.date) -> list[ContractSpec]:
    """US stocks, the front ES future, EUR.USD and a EUR-denominated stock (SAP on IBIS)."""
    expiry = front_quarter_expiry(today)
    month_code = "FGHJKMNQUVXZ"[expiry.month - 1]
    return [
        ContractSpec(
            265598,
            "AAPL",
            "STK",
            "SMART",
            "NASDAQ",
            "USD",
            "AAPL",
            "NMS",
            "APPLE INC",
            190.0,
            valid_exchanges="SMART,NASDAQ,ARCA,BATS,IEX",
            industry="Technology",
            category="Computers",
        ),
        ContractSpec(
            272093,
            "MSFT",
            "STK",
            "SMART",
            "NASDAQ",
            "USD",
            "MSFT",
            "NMS",
            "MICROSOFT CORP",
            410.0,
            valid_exchanges="SMART,NASDAQ,ARCA,BATS,IEX",
            industry="Technology",
            category="Software",
        ),
        ContractSpec(
            756733,
            "SPY",
            "STK",
            "SMART",
            "ARCA",
            "USD",
            "SPY",
            "SPY",
            "SPDR S&P 500 ETF TRUST",
            470.0,
            valid_exchanges="SMART,ARCA,NASDAQ,BATS,IEX",
            industry="Funds",
            category="Equity Fund",
        ),
        ContractSpec(
            495512563,
            "ES",
            "FUT",
            "CME",
            "CME",
            "USD",
            f"ES{month_code}{expiry.year % 10}",
            "ES",
            "E-mini S&P 500",
            5000.0,
            min_tick=0.25,
            multiplier="50",
            last_trade_date=expiry.strftime("%Y%m%d"),
            valid_exchanges="CME",
            time_zone="US/Central",
            market_rule_id=67,
            order_types="ACTIVETIM,AD,ALERT,GAT,GTC,GTD,IOC,LMT,MKT,STP,STPLMT,TRAIL",
        ),
        ContractSpec(
            12087792,
            "EUR",
            "CASH",
            "IDEALPRO",
            "IDEALPRO",
            "USD",
            "EUR.USD",
            "EUR.USD",
            "European Monetary Union Euro",
            1.08,
            min_tick=0.00005,
            valid_exchanges="IDEALPRO",
            time_zone="US/Eastern",
            market_rule_id=239,
            order_types="GTC,IOC,LMT,MKT,STP,STPLMT",
        ),
        ContractSpec(
            14204,
            "SAP",
            "STK",
            "SMART",
            "IBIS",
            "EUR",
            "SAP",
            "XETRA",
            "SAP SE",
            180.0,
            valid_exchanges="SMART,IBIS,FWB,TGATE",
            time_zone="Europe/Berlin",
            industry="Technology",
            category="Software",
            market_rule_id=1408,
        ),
    ]


class ContractBook:
    """Looks contracts up the way TWS answers reqContractDetails: by conId, else by matching fields."""

    def __init__(self, contracts: Iterable[ContractSpec]) -> None:
        self._by_id: dict[int, ContractSpec] = {}
        for spec in contracts:
            self.add(spec)

    def add(self, spec: ContractSpec) -> None:
        self._by_id[spec.con_id] = spec

    def __iter__(self) -> Iterator[ContractSpec]:
        return iter(self._by_id.values())

    def by_id(self, con_id: int) -> ContractSpec | None:
        return self._by_id.get(con_id)

    def by_symbol(self, symbol: str) -> ContractSpec:
        """The contract a control-API caller means by a symbol or local symbol such as "EUR.USD"."""
        for spec in self._by_id.values():
            if symbol in (spec.symbol, spec.local_symbol):
                return spec
        raise KeyError(f"no contract with symbol {symbol!r}; known: {sorted(self.symbols())}")

    def symbols(self) -> list[str]:
        return [spec.local_symbol for spec in self._by_id.values()]

    def match(self, query: ContractQuery) -> list[ContractSpec]:
        if query.con_id:
            spec = self._by_id.get(query.con_id)
            return [spec] if spec is not None else []
        return [spec for spec in self._by_id.values() if _matches(spec, query)]

    def resolve(self, query: ContractQuery) -> ContractSpec | None:
        """The single contract an order names, or None when unknown or ambiguous (error 200)."""
        found = self.match(query)
        return found[0] if len(found) == 1 else None


def _matches(spec: ContractSpec, q: ContractQuery) -> bool:
    if q.symbol and q.symbol not in (spec.symbol, spec.local_symbol):
        return False
    if not q.symbol and not q.local_symbol:
        return False
    if q.local_symbol and q.local_symbol != spec.local_symbol:
        return False
    if q.sec_type and q.sec_type != spec.sec_type:
        return False
    if q.currency and q.currency != spec.currency:
        return False
    if q.last_trade_date and not spec.last_trade_date.startswith(q.last_trade_date):
        return False
    if q.multiplier and spec.multiplier and float(q.multiplier) != spec.multiplier_value:
        return False
    if q.trading_class and q.trading_class != spec.trading_class:
        return False
    exchanges = _exchanges(spec)
    if q.exchange and q.exchange not in exchanges:
        return False
    return not (q.primary_exchange and q.primary_exchange not in exchanges)


def _exchanges(spec: ContractSpec) -> Sequence[str]:
    listed = [e for e in spec.valid_exchanges.split(",") if e]
    return [spec.exchange, spec.primary_exchange, *listed]


def as_requested(spec: ContractSpec, query: ContractQuery) -> ContractSpec:
    """The spec with the exchange the request named, as TWS echoes a directed exchange back."""
    if query.exchange and query.exchange != spec.exchange and query.exchange in _exchanges(spec):
        return replace(spec, exchange=query.exchange)
    return spec


def trading_hours(spec: ContractSpec, day: dt.date) -> tuple[str, str]:
    """`tradingHours` and `liquidHours` strings for the next two days, in IB's format."""
    days = [day, day + dt.timedelta(days=1)]
    stamps = [d.strftime("%Y%m%d") for d in days]
    if spec.sec_type == "STK" and spec.currency == "USD":
        full = ";".join(US_STOCK_HOURS.format(d=s) for s in stamps)
        liquid = ";".join(US_STOCK_LIQUID.format(d=s) for s in stamps)
        return full, liquid
    if spec.sec_type == "STK":
        text = ";".join(f"{s}:0900-{s}:1730" for s in stamps)
        return text, text
    text = ";".join(f"{a}:1700-{b}:1600" for a, b in itertools.pairwise(stamps))
    return text, text
