"""``Client``: the async notebook client of the MATS API. Reads return pandas objects, writes return the
server's JSON, refusals raise ``MatsApiError``; nothing here blocks the (Jupyter) event loop."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Collection, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd

from mats.sdk import frames
from mats.sdk.backtests import BacktestRun, backtest_run, backtests_frame
from mats.sdk.errors import BacktestFailed, MatsApiError, error_message
from mats.sdk.events import Event, EventStream

STORE_LAG_S = 15.0  # how long a finished backtest's stored result may take to show up


class Client:
    """One engine's API. Use ``async with connect(url, token) as m:``; every method is a coroutine except
    ``stream()``, which returns an async iterator."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()  # closed with the client

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for events in list(self._streams):
            await events.aclose()
        self._streams.clear()
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any route, for what the helpers below do not cover; the decoded JSON body (None for 204)."""
        response = await self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise MatsApiError(response.status_code, error_message(body, response.reason_phrase), body)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # -- engine -------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return dict(await self.request("GET", "/api/health"))

    async def settings(self) -> dict[str, Any]:
        """The engine's settings, secrets redacted."""
        return dict(await self.request("GET", "/api/settings"))

    async def connection(self) -> dict[str, Any]:
        """The IB connection's state."""
        return dict(await self.request("GET", "/api/connection"))

    # -- strategies ---------------------------------------------------------------------------------

    async def strategies(self) -> pd.DataFrame:
        """Registered strategies indexed by ``strategy_id``, with their status and clientId."""
        return frames.strategies_frame(await self.request("GET", "/api/strategies"))

    async def strategy(self, strategy_id: str) -> dict[str, Any]:
        return dict(await self.request("GET", f"/api/strategies/{_seg(strategy_id)}"))

    async def register(self, spec: Mapping[str, Any] | None = None, /, **fields: Any) -> dict[str, Any]:
        """Register a strategy: a spec dict shaped like ``[[strategies]]``, keyword fields, or both."""
        body = {**(spec or {}), **fields}
        return dict(await self.request("POST", "/api/strategies", json=body))

    async def update(self, strategy_id: str, **changes: Any) -> dict[str, Any]:
        """Change a registered strategy (symbols, params, target_weight, equity, bar_size, autostart);
        it takes effect at the next start."""
        return dict(await self.request("PATCH", f"/api/strategies/{_seg(strategy_id)}", json=changes))

    async def delete(self, strategy_id: str) -> None:
        await self.request("DELETE", f"/api/strategies/{_seg(strategy_id)}")

    async def start(self, strategy_id: str) -> dict[str, Any]:
        return dict(await self.request("POST", f"/api/strategies/{_seg(strategy_id)}/start"))

    async def stop(self, strategy_id: str) -> dict[str, Any]:
        return dict(await self.request("POST", f"/api/strategies/{_seg(strategy_id)}/stop"))

    # -- portfolio, fills, orders -------------------------------------------------------------------

    async def portfolio(self) -> pd.DataFrame:
        """Positions by strategy (Discretionary included); ``.attrs`` holds account, base_currency,
        total_equity, as_of and the last reconciliation rows."""
        return frames.positions_frame(await self.request("GET", "/api/portfolio"))

    async def equity(self, strategy_id: str | None = None) -> pd.Series:
        """The account's equity curve, or a strategy's PnL curve; ``.attrs["daily_pnl"]`` too."""
        params = {"strategy_id": strategy_id} if strategy_id is not None else None
        return frames.equity_series(await self.request("GET", "/api/portfolio/equity", params=params))

    async def fills(self, strategy_id: str | None = None, *, limit: int = 500) -> pd.DataFrame:
        """Recent fills indexed by execution time, oldest first."""
        params: dict[str, Any] = {"limit": limit}
        if strategy_id is not None:
            params["strategy_id"] = strategy_id
        return frames.fills_frame(await self.request("GET", "/api/fills", params=params))

    async def orders(self, strategy_id: str | None = None, *, open_only: bool = False) -> pd.DataFrame:
        """Orders indexed by ``order_ref``, newest first."""
        params: dict[str, Any] = {"open_only": open_only}
        if strategy_id is not None:
            params["strategy_id"] = strategy_id
        return frames.orders_frame(await self.request("GET", "/api/orders", params=params))

    async def cancel(self, order_ref: str) -> dict[str, Any]:
        return dict(await self.request("POST", f"/api/orders/{_seg(order_ref)}/cancel"))

    # -- risk and reconciliation --------------------------------------------------------------------

    async def reconcile(self) -> pd.DataFrame:
        """Reconcile now: one row per contract (ib_qty, attributed_qty, break_qty, …); ``attrs["as_of"]``."""
        body = await self.request("POST", "/api/portfolio/reconcile")
        df = frames.reconciliation_frame(body.get("reconciliation", []))
        df.attrs["as_of"] = pd.Timestamp(body["as_of"]) if body.get("as_of") else None
        return df

    async def book(
        self, con_id: int, strategy_id: str, qty: float, reason: str, price: float | None = None
    ) -> dict[str, Any]:
        """Attribute a break (signed ``qty`` of ``con_id``) to a strategy or to Discretionary."""
        body: dict[str, Any] = {"con_id": con_id, "strategy_id": strategy_id, "qty": qty, "reason": reason}
        if price is not None:
            body["price"] = price
        return dict(await self.request("POST", "/api/portfolio/bookings", json=body))

    async def kill_switch(
        self, engaged: bool = True, strategy_id: str | None = None, reason: str = ""
    ) -> dict[str, Any]:
        """Engage (or release) the kill switch for one strategy, or for all with ``strategy_id=None``."""
        body = {"engaged": engaged, "strategy_id": strategy_id, "reason": reason}
        return dict(await self.request("POST", "/api/risk/kill-switch", json=body))

    # -- ArcticDB -----------------------------------------------------------------------------------

    async def libraries(self) -> list[str]:
        return list(await self.request("GET", "/api/arctic/libraries"))

    async def symbols(self, library: str) -> list[str]:
        return list(await self.request("GET", f"/api/arctic/libraries/{_seg(library)}/symbols"))

    async def read(self, library: str, symbol: str, *, tail: int = 200) -> pd.DataFrame:
        """The last ``tail`` rows of a stored symbol (the server caps it at 5,000)."""
        path = f"/api/arctic/libraries/{_seg(library)}/symbols/{_seg(symbol)}"
        return frames.symbol_frame(await self.request("GET", path, params={"tail": tail}))

    # -- backtests ----------------------------------------------------------------------------------

    async def backtests(self) -> pd.DataFrame:
        """Backtests started here (with live progress) and every stored run, newest first."""
        return backtests_frame(await self.request("GET", "/api/backtests"))

    async def backtest_run(self, run_id: str) -> BacktestRun:
        """One run: its status and stats, and once done its equity curve and fills."""
        return backtest_run(await self.request("GET", f"/api/backtests/{_seg(run_id)}"))

    async def backtest(
        self,
        request: Mapping[str, Any] | None = None,
        /,
        *,
        wait: bool = True,
        poll: float = 0.25,
        timeout: float | None = 600.0,
        progress: Callable[[float], object] | None = None,
        **fields: Any,
    ) -> BacktestRun:
        """Run a backtest in the engine's worker process (``cls``, ``symbols``, ``params``, ``start``,
        ``end``, ``bar_size``, ``cash``, ``commission``…) and, with ``wait``, poll until it finishes.

        ``progress(fraction)`` is called as the run advances. A run that failed raises ``BacktestFailed``.
        """
        started = await self.request("POST", "/api/backtests", json={**(request or {}), **fields})
        run_id = str(started["run_id"])
        run = backtest_run(started)
        if not wait:
            return run
        seen = -1.0
        loop = asyncio.get_running_loop()
        finished_at: float | None = None
        async with asyncio.timeout(timeout):
            while True:
                run = await self.backtest_run(run_id)
                if progress is not None and run.progress != seen:
                    seen = run.progress
                    progress(seen)
                if run.finished:
                    # A done run whose curve is not readable yet: the server's listing of stored
                    # results can lag the worker by a few seconds (its ArcticDB listing cache).
                    finished_at = loop.time() if finished_at is None else finished_at
                    if run.status == "failed" or len(run.equity) or loop.time() - finished_at > STORE_LAG_S:
                        break
                await asyncio.sleep(poll)
        if run.status == "failed":
            raise BacktestFailed(run.run_id, run.error or "failed")
        return run

    # -- events -------------------------------------------------------------------------------------

    def stream(
        self, types: Collection[str] | None = None, since: int | None = None, *, retry_for: float = 30.0
    ) -> EventStream:
        """Events as they happen (``types`` filters, e.g. ``{"fill"}``); from ``since`` (a seq) when given.

        A dropped connection is resumed from the last seq seen; ``retry_for`` seconds without a working
        connection ends the iteration with ``ConnectionError``.
        """
        base = "ws" + self.url.removeprefix("http")
        events = EventStream(f"{base}/api/stream", self._token, types=types, since=since, retry_for=retry_for)
        self._streams.add(events)
        return events


def connect(url: str, token: str, *, timeout: float = 30.0) -> Client:
    """A client for the API at ``url`` (``http://127.0.0.1:8000``); ``async with`` it to close cleanly."""
    return Client(url, token, timeout=timeout)


def _seg(value: str) -> str:
    return quote(value, safe="")


__all__ = ["Client", "Event", "connect"]
