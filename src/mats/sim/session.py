"""One API client socket: handshake, startApi, and an answer (or error) for every request it sends.

A session owns only its subscriptions; orders and the account live in the shared exchange, and the
server decides which sessions hear about order events.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from . import outbound as out
from .codec import FrameReader, MalformedMessage, ProtocolError, encode, parse_handshake
from .contracts import ContractBook, as_requested
from .exchange import Exchange, OrderError
from .inbound import (
    CancelOrder,
    CancelSubscription,
    ExecFilter,
    Ignored,
    PlaceOrder,
    ReqAccountSummary,
    ReqAccountUpdates,
    ReqAccountUpdatesMulti,
    ReqAutoOpenOrders,
    ReqCompletedOrders,
    ReqContractDetails,
    ReqCurrentTime,
    ReqExecutions,
    ReqGlobalCancel,
    ReqHeadTimeStamp,
    ReqHistoricalData,
    ReqIds,
    ReqManagedAccounts,
    ReqMarketDataType,
    ReqMarketRule,
    ReqMatchingSymbols,
    ReqMktData,
    ReqOpenOrders,
    ReqPnL,
    ReqPositions,
    ReqPositionsMulti,
    ReqRealTimeBars,
    Request,
    StartApi,
    Unsupported,
    parse_request,
    request_id,
)
from .orders import Execution
from .outbound import Fields
from .pacing import MAX_MESSAGES_PER_SECOND, Window

if TYPE_CHECKING:
    from .clock import Clock
    from .faults import Faults
    from .feeds import BarStream, Feeds, TickStream

log = logging.getLogger("mats.sim.session")

MIN_SERVER_VERSION = 176
MAX_SERVER_VERSION = 178
#: A client that does not read its socket is dropped rather than buffered without bound.
MAX_WRITE_BUFFER = 64 * 1024 * 1024


class Hub(Protocol):
    """What a session needs from the server it belongs to."""

    account: str
    master_client_id: int
    exchange: Exchange
    contracts: ContractBook
    feeds: Feeds
    faults: Faults
    clock: Clock
    pacing: bool

    def register(self, session: Session, client_id: int) -> tuple[int, str] | None: ...

    def unregister(self, session: Session) -> None: ...

    def conn_time(self) -> str: ...


@dataclass(slots=True)
class Subscriptions:
    """Streams this client asked for; TWS drops all of them when the socket goes."""

    positions: bool = False
    account_updates: bool = False
    auto_open_orders: bool = False
    market_data_type: int = 1
    positions_multi: set[int] = field(default_factory=set)
    account_multi: set[int] = field(default_factory=set)
    account_summary: dict[int, frozenset[str]] = field(default_factory=dict)
    pnl: dict[int, int] = field(default_factory=dict)  # reqId → conId (0: whole account)
    ticks: dict[int, TickStream] = field(default_factory=dict)
    bar_streams: dict[int, BarStream] = field(default_factory=dict)  # keepUpToDate and real-time bars


class Session:
    def __init__(
        self, hub: Hub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
    ) -> None:
        self.hub = hub
        self.number = number
        self.client_id: int | None = None
        self.server_version = 0
        self.subs = Subscriptions()
        self._reader = reader
        self._writer = writer
        self._frames = FrameReader()
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._rate = Window(1.0)
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    @property
    def is_master(self) -> bool:
        return self.client_id == self.hub.master_client_id

    def __repr__(self) -> str:
        return f"Session(#{self.number}, client_id={self.client_id}, sv={self.server_version})"

    # ------------------------------------------------------------------ I/O

    async def run(self) -> None:
        try:
            if await self._handshake():
                await self._serve()
        except ProtocolError as e:
            log.warning(
                "session.protocol_error session=%s client_id=%s error=%s", self.number, self.client_id, e
            )
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # a simulator bug ends this session only, never the server
            log.exception("session.failed session=%s client_id=%s", self.number, self.client_id)
        finally:
            self.hub.unregister(self)
            self.close()
            log.info("session.closed session=%s client_id=%s", self.number, self.client_id)

    async def _handshake(self) -> bool:
        buffer = b""
        while True:
            data = await self._reader.read(4096)
            if not data:
                return False
            buffer += data
            parsed = parse_handshake(buffer)
            if parsed is not None:
                break
        handshake, used = parsed
        if handshake.max_version < MIN_SERVER_VERSION or handshake.min_version > MAX_SERVER_VERSION:
            raise ProtocolError(
                f"client speaks v{handshake.min_version}..{handshake.max_version}; "
                f"the simulator speaks {MIN_SERVER_VERSION}..{MAX_SERVER_VERSION}"
            )
        self.server_version = min(handshake.max_version, MAX_SERVER_VERSION)
        log.info(
            "session.handshake session=%s peer=%s offered=v%s..%s options=%r server_version=%s",
            self.number, self.peer, handshake.min_version, handshake.max_version, handshake.options,
            self.server_version,
        )  # fmt: skip
        self.send(out.handshake_reply(self.server_version, self.hub.conn_time()))
        self._dispatch_frames(buffer[used:])
        return True

    async def _serve(self) -> None:
        while not self._writer.is_closing():
            data = await self._reader.read(65536)
            if not data:
                return
            self._dispatch_frames(data)
            await self._drain()

    def _dispatch_frames(self, data: bytes) -> None:
        if not data:
            return
        for fields in self._frames.feed(data):
            if self._writer.is_closing():
                return
            self.handle(fields)
        self._flush()  # answers leave now, in one write, not one loop iteration later

    async def _drain(self) -> None:
        transport = self._writer.transport
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            raise ProtocolError("client is not reading its socket")

    def send(self, fields: Fields) -> None:
        """Queue one message; everything queued in one loop iteration leaves in one write."""
        if self._writer.is_closing():
            return
        self._outbox.append(encode(fields))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._outbox and not self._writer.is_closing():
            self._writer.write(b"".join(self._outbox))
        self._outbox.clear()

    def close(self) -> None:
        self._flush()
        if not self._writer.is_closing():
            self._writer.close()

    # ------------------------------------------------------------- requests

    def handle(self, fields: list[str]) -> None:
        """Answer one message; a malformed one gets error 320 and the session goes on."""
        try:
            request = parse_request(fields, self.server_version)
        except MalformedMessage as e:
            log.warning("session.malformed session=%s client_id=%s error=%s", self.number, self.client_id, e)
            req_id = request_id(fields)
            self.send(out.error(-1 if req_id is None else req_id, 320, f"Error reading request: {e}"))
            return
        if self.hub.pacing and self.client_id is not None:
            received = self._rate.hit(asyncio.get_running_loop().time())
            if received > MAX_MESSAGES_PER_SECOND:
                req_id = request_id(fields)
                self.send(
                    out.error(
                        -1 if req_id is None else req_id,
                        100,
                        f"Max rate of messages per second has been exceeded:max={MAX_MESSAGES_PER_SECOND} "
                        f"rec={received} (1)",
                    )
                )
                return
        if self.client_id is None and not isinstance(request, StartApi):
            self.send(out.error(-1, 321, "The API connection is not started: send startApi first."))
            return
        try:
            self._answer(request)
        except MalformedMessage as e:
            self.send(out.error(-1, 320, f"Error reading request: {e}"))
        except Exception as e:  # a simulator bug must not take the socket (or the server) down
            log.exception(
                "session.request_failed session=%s client_id=%s request=%r",
                self.number,
                self.client_id,
                request,
            )
            self.send(out.error(-1, 322, f"Error processing request: {e}"))

    def _answer(self, request: Request) -> None:
        ex = self.hub.exchange
        cid = self.client_id if self.client_id is not None else -1
        match request:
            case StartApi(client_id=client_id):
                self._start(client_id)
            case PlaceOrder(order_id=order_id, contract=contract, ticket=ticket):
                try:
                    ex.place(cid, order_id, contract, ticket)
                except OrderError as e:
                    self.send(out.error(order_id, e.code, e.message))
            case CancelOrder(order_id=order_id):
                try:
                    ex.cancel(cid, order_id)
                except OrderError as e:
                    self.send(out.error(order_id, e.code, e.message))
            case ReqGlobalCancel():
                log.info("session.global_cancel client_id=%s cancelled=%s", cid, ex.global_cancel())
            case ReqOpenOrders(all_clients=all_clients):
                for order in ex.open_orders(None if all_clients else cid):
                    self.send(out.open_order(order, self.server_version))
                    self.send(out.order_status(order))
                self.end_marker("openOrderEnd", out.open_order_end())
            case ReqAutoOpenOrders(auto_bind=auto_bind):
                self.subs.auto_open_orders = auto_bind and cid == 0
            case ReqCompletedOrders(api_only=api_only):
                for order in ex.completed_orders(api_only):
                    self.send(out.completed_order(order, self.server_version))
                self.end_marker("completedOrdersEnd", out.completed_orders_end())
            case ReqExecutions(req_id=req_id, filter=flt):
                for execution, report in ex.executions():
                    if self._sees_execution(execution) and _passes(flt, execution):
                        self.send(out.exec_details(req_id, execution, self.server_version))
                        self.send(out.commission_report(report))
                self.end_marker("execDetailsEnd", out.exec_details_end(req_id))
            case ReqIds():
                self.send(out.next_valid_id(ex.next_order_id(cid)))
            case ReqContractDetails(req_id=req_id, contract=query):
                found = self.hub.contracts.match(query)
                if not found:
                    self.send(out.error(req_id, 200, "No security definition has been found for the request"))
                    return
                today = ex.clock.now().date()
                for spec in found:
                    self.send(out.contract_details(req_id, as_requested(spec, query), today))
                self.end_marker("contractDetailsEnd", out.contract_details_end(req_id))
            case ReqManagedAccounts():
                self.send(out.managed_accounts([self.hub.account]))
            case ReqCurrentTime():
                self.send(out.current_time(int(ex.clock.now().timestamp())))
            case ReqMktData():
                self.hub.feeds.market_data(self, request)
            case ReqHistoricalData():
                self.hub.feeds.historical(self, request)
            case ReqRealTimeBars():
                self.hub.feeds.real_time_bars(self, request)
            case ReqHeadTimeStamp():
                self.hub.feeds.head_timestamp(self, request)
            case ReqMarketDataType(market_data_type=kind):
                self.subs.market_data_type = kind
            case ReqPositions(subscribe=subscribe):
                self.subs.positions = subscribe
                if subscribe:
                    for h in ex.account.holdings.values():
                        self.send(out.position(self.hub.account, h.spec, h.qty, h.avg_cost))
                    self.end_marker("positionEnd", out.position_end())
            case ReqPositionsMulti(req_id=req_id):
                self.subs.positions_multi.add(req_id)
                for h in ex.account.holdings.values():
                    self.send(out.position_multi(req_id, self.hub.account, h.spec, h.qty, h.avg_cost))
                self.end_marker("positionMultiEnd", out.position_multi_end(req_id))
            case ReqAccountUpdates(subscribe=subscribe):
                self.subs.account_updates = subscribe
                if subscribe:
                    self.push_account_updates()
                    self.end_marker("accountDownloadEnd", out.account_download_end(self.hub.account))
            case ReqAccountUpdatesMulti(req_id=req_id):
                self.subs.account_multi.add(req_id)
                self.push_account_multi(req_id)
                self.end_marker("accountUpdateMultiEnd", out.account_update_multi_end(req_id))
            case ReqAccountSummary(req_id=req_id, tags=tags):
                self.subs.account_summary[req_id] = frozenset(t for t in tags.split(",") if t)
                self.push_account_summary(req_id)
                self.end_marker("accountSummaryEnd", out.account_summary_end(req_id))
            case ReqPnL(req_id=req_id, con_id=con_id):
                self.subs.pnl[req_id] = con_id
                self.push_pnl(req_id)
            case CancelSubscription(req_id=req_id):
                self.subs.positions_multi.discard(req_id)
                self.subs.account_multi.discard(req_id)
                self.subs.account_summary.pop(req_id, None)
                self.subs.pnl.pop(req_id, None)
                self.subs.ticks.pop(req_id, None)
                self.subs.bar_streams.pop(req_id, None)
            case ReqMatchingSymbols(req_id=req_id, pattern=pattern):
                found = [s for s in self.hub.contracts if s.symbol.startswith(pattern.upper())]
                self.send(out.symbol_samples(req_id, found, self.server_version))
            case ReqMarketRule(rule_id=rule_id):
                ticks = [s.min_tick for s in self.hub.contracts if s.market_rule_id == rule_id]
                self.send(out.market_rule(rule_id, ticks[0] if ticks else 0.01))
            case Unsupported(msg_id=msg_id, req_id=req_id, snapshot=snapshot):
                self.send(out.error(-1 if req_id is None else req_id, 321, _unsupported_text(msg_id)))
                answer = out.empty_answer(msg_id, req_id, snapshot)
                if answer is not None:
                    self.send(answer)
            case Ignored():
                pass

    def end_marker(self, name: str, fields: Fields) -> None:
        """Send an end marker, unless a fault drops or delays it."""
        fault = self.hub.faults.take_marker(name)
        if fault is None:
            self.send(fields)
        elif fault.delay is not None:
            log.info("fault.end_marker_delayed session=%s name=%s delay=%s", self.number, name, fault.delay)
            self.hub.clock.call_later(fault.delay, lambda: self.send(fields))
        else:
            log.info("fault.end_marker_dropped session=%s name=%s", self.number, name)

    def _start(self, client_id: int) -> None:
        if self.client_id is not None:
            return
        refusal = self.hub.register(self, client_id)
        if refusal is not None:
            code, text = refusal
            log.warning("session.refused session=%s client_id=%s code=%s", self.number, client_id, code)
            self.send(out.error(-1, code, text))
            self.close()
            return
        self.client_id = client_id
        log.info("session.started session=%s client_id=%s peer=%s", self.number, client_id, self.peer)
        self.send(out.managed_accounts([self.hub.account]))
        self.send(out.next_valid_id(self.hub.exchange.next_order_id(client_id)))
        for notice in out.farm_notices():
            self.send(notice)

    def _sees_execution(self, execution: Execution) -> bool:
        """The master sees every fill; client 0 also sees manual ones; others only their own."""
        return self.is_master or execution.client_id == self.client_id

    # ------------------------------------------------------------- streams

    def push_account_updates(self) -> None:
        account = self.hub.exchange.account
        for key, value, ccy in account.values():
            self.send(out.account_value(key, value, ccy, self.hub.account))
        for row in account.portfolio():
            self.send(
                out.portfolio_value(
                    row.spec,
                    row.qty,
                    row.market_price,
                    row.market_value,
                    row.avg_cost,
                    row.unrealized,
                    row.realized,
                    self.hub.account,
                )
            )
        self.send(out.account_time(self.hub.exchange.clock.now().strftime("%H:%M")))

    def push_account_multi(self, req_id: int) -> None:
        for key, value, ccy in self.hub.exchange.account.values():
            self.send(out.account_update_multi(req_id, self.hub.account, key, value, ccy))

    def push_account_summary(self, req_id: int) -> None:
        tags = self.subs.account_summary.get(req_id, frozenset())
        ledger = any(t.startswith("$LEDGER") for t in tags)
        for key, value, ccy in self.hub.exchange.account.values():
            per_currency = key in (
                "CashBalance",
                "TotalCashBalance",
                "ExchangeRate",
                "NetLiquidationByCurrency",
            )
            if (key in tags and not per_currency) or (ledger and per_currency):
                self.send(out.account_summary(req_id, self.hub.account, key, value, ccy))

    def push_pnl(self, req_id: int) -> None:
        account = self.hub.exchange.account
        con_id = self.subs.pnl.get(req_id)
        if con_id is None:
            return
        if con_id:
            self.send(out.pnl_single(req_id, *account.pnl_single(con_id)))
        else:
            self.send(out.pnl(req_id, *account.pnl()))

    def push_all_account_streams(self) -> None:
        if self.subs.account_updates:
            self.push_account_updates()
        for req_id in self.subs.account_multi:
            self.push_account_multi(req_id)
        for req_id in self.subs.account_summary:
            self.push_account_summary(req_id)
        for req_id in self.subs.pnl:
            self.push_pnl(req_id)

    def push_position(self, con_id: int) -> None:
        """Position rows go out at once; portfolio rows ride the coalesced account push (as at TWS)."""
        account = self.hub.exchange.account
        h = account.holdings.get(con_id)
        if h is None:
            return
        if self.subs.positions:
            self.send(out.position(self.hub.account, h.spec, h.qty, h.avg_cost))
        for req_id in self.subs.positions_multi:
            self.send(out.position_multi(req_id, self.hub.account, h.spec, h.qty, h.avg_cost))


def _passes(f: ExecFilter, e: Execution) -> bool:
    side = {"BUY": "BOT", "SELL": "SLD"}.get(f.side, f.side)
    return (
        (not f.client_id or f.client_id == e.client_id)
        and (not f.account or f.account == e.account)
        and (not f.symbol or f.symbol == e.contract.symbol)
        and (not f.sec_type or f.sec_type == e.contract.sec_type)
        and (not f.exchange or f.exchange == e.exchange)
        and (not side or side == e.side)
        and (not f.time or _exec_after(e.time, f.time))
    )


def _exec_after(exec_time: str, since: str) -> bool:
    """Filter time `yyyymmdd hh:mm:ss` (or with '-'), compared as text on the shared UTC layout."""
    normalized = since.replace("-", " ").strip()[:17]
    return exec_time[:17] >= normalized


def _unsupported_text(msg_id: int) -> str:
    return f"Request (message id {msg_id}) is not supported by the MATS simulator."
