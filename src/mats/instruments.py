"""Instrument specs (``"AAPL"``, ``"EUR.USD"``, dicts) resolved into conId-keyed instruments.

A strategy names what it trades in the short forms of DESIGN section 6; everything inside MATS works
with an :class:`Instrument`, which carries what prices and PnL need (multiplier, minTick, currency) and
the exchange calendar its sessions follow. The live side resolves specs through IB (an
``InstrumentResolver`` backed by ``reqContractDetails``); backtests use a :class:`LocalInstrumentTable`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import msgspec

from mats.model import ConId

InstrumentSpec = str | Mapping[str, Any]

_FUTURE_MONTH_CODES = "FGHJKMNQUVXZ"
_SPEC_KEYS = frozenset({"symbol", "sec_type", "exchange", "currency", "expiry", "local_symbol"})


class UnknownInstrument(LookupError):
    """A spec that no resolver knows; the message names the spec and what is known."""


class Instrument(msgspec.Struct, frozen=True):
    """A tradable contract as MATS knows it, keyed by IB's conId."""

    con_id: ConId
    symbol: str  # the underlying: "AAPL", "ES", "EUR"
    sec_type: str = "STK"  # STK, FUT or CASH
    exchange: str = "SMART"
    currency: str = "USD"
    multiplier: float = 1.0
    min_tick: float = 0.01
    calendar: str = "XNYS"  # an exchange_calendars name: XNYS, CMES, XETR, 24/5
    expiry: str = ""  # futures: YYYYMM or YYYYMMDD
    local_symbol: str = ""  # what bars carry: "AAPL", "ESZ6", "EUR.USD"

    @property
    def key(self) -> str:
        """The name bars and strategies use for this instrument (``bar.symbol``)."""
        return self.local_symbol or self.symbol

    @property
    def is_margined(self) -> bool:
        """Futures settle their PnL, not their notional, so cash moves by PnL only."""
        return self.sec_type == "FUT"

    def round_price(self, price: float) -> float:
        """The nearest valid price on this instrument's minTick grid."""
        ticks = round(price / self.min_tick)
        decimals = max(0, -math.floor(math.log10(self.min_tick)) + 2)
        return round(ticks * self.min_tick, decimals)


class ContractQuery(msgspec.Struct, frozen=True):
    """A spec in normal form: what to look for in a table or to ask IB for."""

    symbol: str
    sec_type: str = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    expiry: str = ""
    local_symbol: str = ""


def parse_spec(spec: InstrumentSpec) -> ContractQuery:
    """``"AAPL"`` → US stock on SMART; ``"EUR.USD"`` → FX on IDEALPRO; a dict → its fields."""
    if isinstance(spec, str):
        text = spec.strip().upper()
        if not text:
            raise UnknownInstrument("instrument spec is empty")
        base, dot, quote = text.partition(".")
        if dot and len(base) == 3 and len(quote) == 3 and base.isalpha() and quote.isalpha():
            return ContractQuery(symbol=base, sec_type="CASH", exchange="IDEALPRO", currency=quote)
        return ContractQuery(symbol=text)
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise UnknownInstrument(
            f"instrument spec has unknown fields {sorted(unknown)}; allowed: {sorted(_SPEC_KEYS)}"
        )
    if "symbol" not in spec:
        raise UnknownInstrument(f"instrument spec needs a 'symbol', got {dict(spec)!r}")
    sec_type = str(spec.get("sec_type", "STK")).upper()
    default_exchange = {"STK": "SMART", "CASH": "IDEALPRO"}.get(sec_type, "")
    return ContractQuery(
        symbol=str(spec["symbol"]).upper(),
        sec_type=sec_type,
        exchange=str(spec.get("exchange", default_exchange)).upper(),
        currency=str(spec.get("currency", "USD")).upper(),
        expiry=str(spec.get("expiry", "")),
        local_symbol=str(spec.get("local_symbol", "")),
    )


def future_local_symbol(symbol: str, expiry: str) -> str:
    """IB's local symbol of a quarterly-style future: ES + 202612 → ``ESZ6``."""
    year, month = int(expiry[:4]), int(expiry[4:6])
    return f"{symbol}{_FUTURE_MONTH_CODES[month - 1]}{year % 10}"


class InstrumentResolver(Protocol):
    """Turns a spec into an instrument; the live side implements it with IB's contract details."""

    def resolve(self, spec: InstrumentSpec | Instrument) -> Instrument: ...


def _matches(inst: Instrument, q: ContractQuery) -> bool:
    if inst.symbol != q.symbol or inst.sec_type != q.sec_type or inst.currency != q.currency:
        return False
    if q.local_symbol and inst.local_symbol != q.local_symbol:
        return False
    if q.expiry and not inst.expiry.startswith(q.expiry):
        return False
    # SMART routes to any exchange: a stock asked for on SMART matches its listing wherever it is.
    return q.exchange in ("", "SMART") or inst.exchange == q.exchange


def _default_instruments() -> list[Instrument]:
    """Real IB conIds for the common names; ES and SAP are illustrative (IB's ids differ per listing)."""

    def stock(con_id: int, symbol: str) -> Instrument:
        return Instrument(ConId(con_id), symbol, local_symbol=symbol)

    def fx(con_id: int, base: str, quote: str, tick: float) -> Instrument:
        return Instrument(
            ConId(con_id), base, "CASH", "IDEALPRO", quote, 1.0, tick, "24/5", local_symbol=f"{base}.{quote}"
        )

    return [
        stock(265598, "AAPL"),
        stock(272093, "MSFT"),
        stock(756733, "SPY"),
        stock(8314, "IBM"),
        fx(12087792, "EUR", "USD", 0.00005),
        fx(12087797, "GBP", "USD", 0.00005),
        fx(15016059, "USD", "JPY", 0.005),
        Instrument(ConId(900000001), "ES", "FUT", "CME", "USD", 50.0, 0.25, "CMES", "202612", "ESZ6"),
        Instrument(ConId(900000002), "SAP", "STK", "IBIS", "EUR", 1.0, 0.01, "XETR", local_symbol="SAP"),
    ]


class LocalInstrumentTable:
    """An in-memory resolver for backtests and tests.

    Unknown plain symbols are refused by ``resolve`` (a typo must not trade); the backtest runner
    registers the symbols it has bars for with :meth:`add_stock`, which makes a US stock with a
    synthetic conId (900,000,000 and up) when the table does not know the name.
    """

    def __init__(self, instruments: Iterable[Instrument] | None = None) -> None:
        self._by_con_id: dict[ConId, Instrument] = {}
        self._by_key: dict[str, Instrument] = {}
        self._cache: dict[str, Instrument] = {}
        for inst in _default_instruments() if instruments is None else instruments:
            self.add(inst)

    def add(self, inst: Instrument) -> Instrument:
        known = self._by_con_id.get(inst.con_id)
        if known is not None and known != inst:
            raise ValueError(f"conId {inst.con_id} is already {known.key}, cannot also be {inst.key}")
        self._by_con_id[inst.con_id] = inst
        self._by_key[inst.key] = inst
        self._cache.clear()
        return inst

    def add_stock(self, symbol: str, currency: str = "USD") -> Instrument:
        """The instrument bars named ``symbol`` belong to, creating a US stock if it is unknown."""
        try:
            return self.resolve(symbol)
        except UnknownInstrument:
            pass
        con_id = 900_000_000 + zlib.crc32(symbol.encode()) % 99_000_000
        while con_id in self._by_con_id:
            con_id += 1
        return self.add(Instrument(ConId(con_id), symbol, currency=currency, local_symbol=symbol))

    def by_con_id(self, con_id: int) -> Instrument:
        try:
            return self._by_con_id[ConId(con_id)]
        except KeyError:
            raise UnknownInstrument(f"no instrument with conId {con_id}") from None

    def __iter__(self) -> Any:
        return iter(self._by_con_id.values())

    def resolve(self, spec: InstrumentSpec | Instrument) -> Instrument:
        if isinstance(spec, Instrument):
            return spec
        if isinstance(spec, str):
            hit = self._cache.get(spec)
            if hit is not None:
                return hit
            inst = self._by_key.get(spec) or self._by_key.get(spec.strip().upper())
            if inst is None:
                inst = self._find(parse_spec(spec), spec)
            self._cache[spec] = inst
            return inst
        return self._find(parse_spec(spec), spec)

    def _find(self, query: ContractQuery, spec: InstrumentSpec) -> Instrument:
        hits = [inst for inst in self._by_con_id.values() if _matches(inst, query)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            names = ", ".join(sorted(h.key for h in hits))
            raise UnknownInstrument(f"instrument {spec!r} is ambiguous: it matches {names}; add an expiry")
        known = ", ".join(sorted(self._by_key))
        raise UnknownInstrument(f"unknown instrument {spec!r}; this table knows {known}")
