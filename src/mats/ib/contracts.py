"""Instruments resolved through IB: specs qualified once with ``reqContractDetails``, cached by conId.

Strategies resolve synchronously (``InstrumentResolver.resolve``); the live side therefore qualifies a
strategy's instruments before it starts (``await qualify``), and ``resolve`` answers from the cache.
"""

from __future__ import annotations

import asyncio

import anyio
import msgspec
import structlog
from ib_async import IB, Contract, ContractDetails

from mats.instruments import Instrument, InstrumentSpec, UnknownInstrument, parse_spec
from mats.model import ConId

log = structlog.get_logger("mats.ib.contracts")

# Exchange → exchange_calendars name, for sessions, DAY orders and the stale-data watchdog.
_CALENDARS = {
    "NYSE": "XNYS",
    "NASDAQ": "XNYS",
    "ARCA": "XNYS",
    "SMART": "XNYS",
    "CME": "CMES",
    "GLOBEX": "CMES",
    "CBOT": "CMES",
    "NYMEX": "CMES",
    "IBIS": "XETR",
    "XETRA": "XETR",
    "IDEALPRO": "24/5",
}


def calendar_for(contract: Contract) -> str:
    if contract.secType == "CASH":
        return "24/5"
    for exchange in (contract.primaryExchange, contract.exchange):
        if exchange in _CALENDARS:
            return _CALENDARS[exchange]
    return "XNYS"


def contract_for(spec: InstrumentSpec | Instrument) -> Contract:
    """What to ask IB for (a spec) or what to trade (an instrument, by conId)."""
    if isinstance(spec, Instrument):
        return Contract(
            conId=spec.con_id,
            symbol=spec.symbol,
            secType=spec.sec_type,
            exchange=spec.exchange,
            currency=spec.currency,
            lastTradeDateOrContractMonth=spec.expiry,
            localSymbol=spec.local_symbol,
        )
    query = parse_spec(spec)
    return Contract(
        symbol=query.symbol,
        secType=query.sec_type,
        exchange=query.exchange,
        currency=query.currency,
        lastTradeDateOrContractMonth=query.expiry,
        localSymbol=query.local_symbol,
    )


def instrument_from(details: ContractDetails) -> Instrument:
    contract = details.contract
    assert contract is not None
    local = contract.localSymbol or contract.symbol
    if contract.secType == "CASH" and "." not in local:
        local = f"{contract.symbol}.{contract.currency}"
    return Instrument(
        con_id=ConId(contract.conId),
        symbol=contract.symbol,
        sec_type=contract.secType,
        exchange=contract.exchange,
        currency=contract.currency,
        multiplier=float(contract.multiplier) if contract.multiplier else 1.0,
        min_tick=float(details.minTick) if details.minTick else 0.01,
        calendar=calendar_for(contract),
        expiry=contract.lastTradeDateOrContractMonth or "",
        local_symbol=local,
    )


class IBInstrumentResolver:
    """Qualifies through the engine's client and remembers the answers (by spec, conId and name)."""

    def __init__(self, ib: IB, *, timeout: float = 10.0) -> None:
        self._ib = ib
        self.timeout = timeout
        self._by_spec: dict[str, Instrument] = {}
        self._by_con_id: dict[int, Instrument] = {}
        self._by_key: dict[str, Instrument] = {}
        self._asking: dict[str, asyncio.Future[Instrument]] = {}

    async def qualify(self, spec: InstrumentSpec | Instrument) -> Instrument:
        if isinstance(spec, Instrument):
            return self._remember(spec, spec)
        key = _spec_key(spec)
        cached = self._by_spec.get(key)
        if cached is not None:
            return cached
        # Forty strategies on AAPL starting at once ask IB once, not forty times (a fan-out IB paces).
        while (asking := self._asking.get(key)) is not None:
            await asyncio.wait([asking])
            if not asking.cancelled():  # the one who asked was cancelled: ask again ourselves
                return asking.result()
        future = self._asking[key] = asyncio.get_running_loop().create_future()
        try:
            instrument = await self._ask(spec)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters (if any) re-raise it, nobody else must
            raise
        except BaseException:
            future.cancel()
            raise
        else:
            future.set_result(instrument)
            return instrument
        finally:
            del self._asking[key]

    async def _ask(self, spec: InstrumentSpec) -> Instrument:
        contract = contract_for(spec)
        with anyio.fail_after(self.timeout):
            details = await self._ib.reqContractDetailsAsync(contract)
        if not details:
            raise UnknownInstrument(f"IB knows no contract for {spec!r}")
        if len(details) > 1:
            names = sorted({d.contract.localSymbol for d in details if d.contract})
            raise UnknownInstrument(
                f"{spec!r} is ambiguous at IB ({names}); add exchange, expiry or currency"
            )
        instrument = instrument_from(details[0])
        log.info("instrument.qualified", spec=str(spec), con_id=instrument.con_id, key=instrument.key)
        return self._remember(spec, instrument)

    def resolve(self, spec: InstrumentSpec | Instrument) -> Instrument:
        if isinstance(spec, Instrument):
            return spec
        found = self._by_spec.get(_spec_key(spec))
        if found is None and isinstance(spec, str):
            found = self._by_key.get(spec.strip().upper())
        if found is None:
            known = ", ".join(sorted(self._by_key)) or "none yet"
            raise UnknownInstrument(f"unknown instrument {spec!r}; qualified so far: {known}")
        return found

    def by_con_id(self, con_id: int) -> Instrument | None:
        return self._by_con_id.get(con_id)

    def _remember(self, spec: InstrumentSpec | Instrument, instrument: Instrument) -> Instrument:
        if not isinstance(spec, Instrument):
            self._by_spec[_spec_key(spec)] = instrument
        self._by_con_id[instrument.con_id] = instrument
        self._by_key[instrument.key.upper()] = instrument
        return instrument


def _spec_key(spec: InstrumentSpec) -> str:
    query = parse_spec(spec)
    return "|".join(msgspec.structs.astuple(query))
