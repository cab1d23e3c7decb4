"""FXCache: exchange rates from IB market data, so every value can be shown in the base currency.

Accounting asks for rates synchronously (``RatesProvider``), so the cache keeps a streaming quote per pair
it has been asked about and answers from the latest midpoint. A pair it has no quote for yet (or one whose
quote is older than ``ttl``) raises ``LookupError`` naming it, rather than silently adding euros to dollars.
"""

from __future__ import annotations

import asyncio
import math
import time

import anyio
import structlog
from ib_async import IB, Contract, Forex, Ticker

log = structlog.get_logger("mats.fx")


class FXCache:
    def __init__(self, ib: IB, *, ttl: float = 300.0, request_timeout: float = 10.0) -> None:
        self._ib = ib
        self.ttl = ttl
        self.request_timeout = request_timeout
        self._pending: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._tickers: dict[tuple[str, str], Ticker] = {}
        self._seen: dict[tuple[str, str], tuple[float, float]] = {}  # pair → (rate, monotonic time)

    async def watch(self, ccy_from: str, ccy_to: str) -> None:
        """Start streaming the pair (IB quotes EUR.USD, not USD.EUR: the inverse is derived)."""
        pair = _quoted(ccy_from, ccy_to)
        if pair in self._tickers or pair in self._pending or ccy_from == ccy_to:
            return
        self._pending.add(pair)
        try:
            with anyio.fail_after(self.request_timeout):
                [qualified] = await self._ib.qualifyContractsAsync(Forex(pair[0] + pair[1]))
        except Exception as exc:
            log.warning("fx.unavailable", pair=f"{pair[0]}.{pair[1]}", error=repr(exc))
            return
        finally:
            self._pending.discard(pair)
        if not isinstance(qualified, Contract):
            return
        ticker = self._ib.reqMktData(qualified)
        ticker.updateEvent += self._on_quote
        self._tickers[pair] = ticker
        log.info("fx.watching", pair=f"{pair[0]}.{pair[1]}")

    def rate(self, ccy_from: str, ccy_to: str) -> float:
        if ccy_from == ccy_to:
            return 1.0
        pair = _quoted(ccy_from, ccy_to)
        seen = self._seen.get(pair)
        if seen is None or time.monotonic() - seen[1] > self.ttl:
            if pair not in self._tickers:  # start watching it for next time
                task = asyncio.ensure_future(self.watch(ccy_from, ccy_to))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            raise LookupError(
                f"no fresh {pair[0]}.{pair[1]} quote from IB yet; values in {ccy_from} not converted"
            )
        value = seen[0]
        return value if (ccy_from, ccy_to) == pair else 1.0 / value

    def set_rate(self, ccy_from: str, ccy_to: str, value: float) -> None:
        """A rate known otherwise (tests, start-up before the first quote)."""
        pair = _quoted(ccy_from, ccy_to)
        self._seen[pair] = (value if (ccy_from, ccy_to) == pair else 1.0 / value, time.monotonic())

    def _on_quote(self, ticker: Ticker) -> None:
        contract = ticker.contract
        if contract is None:
            return
        mid = ticker.midpoint()
        price = mid if mid == mid and mid > 0 else ticker.marketPrice()
        if price == price and price > 0 and math.isfinite(price):
            self._seen[(contract.symbol, contract.currency)] = (float(price), time.monotonic())


def _quoted(ccy_from: str, ccy_to: str) -> tuple[str, str]:
    """How IB quotes the pair: EUR, GBP, AUD, NZD against USD; USD against the rest."""
    majors = ("EUR", "GBP", "AUD", "NZD")
    if ccy_from in majors or (
        ccy_from != "USD" and ccy_to == "USD" and ccy_from not in ("JPY", "CHF", "CAD")
    ):
        return ccy_from, ccy_to
    if ccy_to in majors:
        return ccy_to, ccy_from
    return (ccy_from, ccy_to) if ccy_from == "USD" else (ccy_to, ccy_from)
