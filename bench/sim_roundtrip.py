"""Order → fill round trips through the simulator with a real ib_async client, beside a bare asyncio echo.

    .venv/bin/python bench/sim_roundtrip.py [--orders 2000]

Each setup sends 2,000 market orders one at a time, then 2,000 pipelined (a window of orders in flight).
Setups: the simulator in the client's own process and loop (every figure then includes both ends' work
on one core), and the simulator as its own process (`python -m mats.sim`), as MATS runs it. The echo
round trip, measured in the same run, is the floor any socket protocol pays. Finally each side's work
per order is measured alone, without sockets, to show where the time goes. ib_async's request throttle
(45 requests/s) is switched off, as the output says; with it on, 2,000 orders would take 45 s whatever
the simulator does.

Goal (issue 5): p50 < 2 ms and >= 1,000 orders/s.

Last, a 6.5-hour session on the virtual clock (issue 6): one client streams ticks, 5-second bars and
keepUpToDate 1-minute bars while the clock is advanced over the whole session at once.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import statistics
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from ib_async import IB, MarketOrder, Stock, Trade

from mats.sim import SimServer
from mats.sim import outbound as out
from mats.sim.clock import VirtualClock, WallClock
from mats.sim.codec import FrameReader, encode
from mats.sim.contracts import ContractBook, default_contracts
from mats.sim.events import ExchangeEvent, OrderChanged, OrderFilled, PositionChanged
from mats.sim.exchange import Exchange, ExchangeConfig
from mats.sim.inbound import PlaceOrder, parse_request
from mats.sim.prices import PriceWalk

P50_GOAL_MS = 2.0
THROUGHPUT_GOAL = 1000.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def echo_round_trips(count: int, size: int = 128) -> list[float]:
    """Length-prefixed messages echoed by an asyncio server: the floor any socket protocol pays."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(4)
                writer.write(head + await reader.readexactly(struct.unpack(">I", head)[0]))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = struct.pack(">I", size) + b"x" * size
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        writer.write(payload)
        await reader.readexactly(len(payload))
        samples.append(time.perf_counter() - start)
    writer.close()
    server.close()
    await server.wait_closed()
    return samples


async def sequential_orders(ib: IB, contract: Stock, count: int) -> list[float]:
    """One market order at a time: placeOrder → the trade's filledEvent."""
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        trade = ib.placeOrder(contract, MarketOrder("BUY", 1))
        await asyncio.wait_for(trade.filledEvent, 5)
        samples.append(time.perf_counter() - start)
    return samples


async def pipelined_orders(ib: IB, contract: Stock, count: int, window: int) -> tuple[float, list[float]]:
    """Keep up to `window` orders in flight; returns elapsed seconds and each order's send → fill latency.

    A window, not all 2,000 at once: ib_async re-slices its whole receive buffer for every message it
    takes off it, so a client that lets megabytes pile up pays quadratically for it (and no real
    strategy sends 2,000 orders without waiting: IB's own pacing is 50 messages per second).
    """
    done = asyncio.Event()
    free = asyncio.Semaphore(window)
    latencies: list[float] = []

    def on_filled(sent: float) -> Callable[[Trade], None]:
        def filled(trade: Trade) -> None:
            latencies.append(time.perf_counter() - sent)
            free.release()
            if len(latencies) == count:
                done.set()

        return filled

    start = time.perf_counter()
    for _ in range(count):
        await free.acquire()
        trade = ib.placeOrder(contract, MarketOrder("SELL", 1))
        trade.filledEvent += on_filled(time.perf_counter())
    await asyncio.wait_for(done.wait(), 60)
    return time.perf_counter() - start, latencies


def line(label: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"{label:<44} p50 {percentile(ms, 0.5):7.3f} ms   p99 {percentile(ms, 0.99):7.3f} ms   "
        f"mean {statistics.fmean(ms):7.3f} ms"
    )


@dataclass(frozen=True)
class Run:
    """One setup's figures: one-at-a-time latencies, pipelined latencies and the pipelined duration."""

    setup: str
    sequential: list[float]
    pipelined: list[float]
    pipelined_seconds: float


async def measure(port: int, count: int, window: int, setup: str) -> Run:
    ib = IB()
    ib.client.MaxRequests = 0  # ib_async's 45 requests/s throttle: OFF for this benchmark
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=5)
    try:
        (aapl,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        assert isinstance(aapl, Stock)
        await sequential_orders(ib, aapl, 50)  # warm-up, not measured
        sequential = await sequential_orders(ib, aapl, count)
        elapsed, pipelined = await pipelined_orders(ib, aapl, count, window)
    finally:
        ib.disconnect()
    return Run(setup, sequential, pipelined, elapsed)


async def in_process(count: int, window: int) -> Run:
    async with SimServer(port=0, price_interval=0) as sim:
        run = await measure(sim.port, count, window, "simulator in this process and loop")
        booked = len(sim.control.executions())
    assert booked == 2 * count + 50, f"simulator booked {booked} executions"
    return run


async def own_process(count: int, window: int) -> Run:
    """`python -m mats.sim` in a child process, as MATS runs it next to the engine."""
    args = ["-m", "mats.sim", "--port", "0", "--price-interval", "0", "--log-level", "WARNING"]
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        port = int(banner.split(" on ")[1].split()[0].rsplit(":", 1)[1])
        return await measure(port, count, window, "simulator as its own process (mats sim)")
    finally:
        proc.terminate()
        await proc.wait()


def offline_ib() -> IB:
    """An ib_async IB that believes it is connected at sv 178 and sends into the void."""
    ib = IB()
    ib.wrapper.clientId = 1
    client = ib.client
    client.MaxRequests = 0
    client.connState = client.CONNECTED
    client._serverVersion = client.decoder.serverVersion = 178
    client._apiReady = True
    client._reqIdSeq = 1
    return ib


def simulator_floor(count: int) -> tuple[float, list[bytes]]:
    """Seconds the simulator alone spends per order, and the reply frames it produced.

    Each order is ib_async's own placeOrder frame; the simulator splits it, parses it, matches it,
    books the fill and encodes what the server sends the owner (openOrder/orderStatus Submitted,
    execDetails, openOrder/orderStatus Filled, commissionReport, position). No socket, no client.
    """
    ib = offline_ib()
    requests: list[bytes] = []
    ib.client.conn.sendMsg = requests.append  # type: ignore[method-assign]
    aapl = Stock("AAPL", "SMART", "USD", conId=265598)
    for _ in range(count):
        ib.placeOrder(aapl, MarketOrder("BUY", 1))
    events: list[ExchangeEvent] = []
    book = ContractBook(default_contracts(dt.date.today()))
    exchange = Exchange(ExchangeConfig(), book, PriceWalk(book, 1), WallClock(), events.append)
    replies = []
    start = time.perf_counter()
    for request in requests:
        (placed,) = FrameReader().feed(request)
        order = parse_request(placed, 178)
        assert isinstance(order, PlaceOrder)
        events.clear()
        exchange.place(1, order.order_id, order.contract, order.ticket)
        frames = []
        for event in events:
            if isinstance(event, OrderChanged):
                frames += [out.open_order(event.order, 178), out.order_status(event.order)]
            elif isinstance(event, OrderFilled):
                frames += [out.exec_details(-1, event.execution, 178), out.open_order(event.order, 178)]
                frames += [out.order_status(event.order), out.commission_report(event.report)]
            elif isinstance(event, PositionChanged):
                holding = exchange.account.holdings[event.con_id]
                frames.append(out.position("DU0000001", holding.spec, holding.qty, holding.avg_cost))
        replies.append(b"".join(encode(f) for f in frames))
    return (time.perf_counter() - start) / count, replies


def client_floor(replies: list[bytes]) -> float:
    """Seconds ib_async alone spends per order: encoding placeOrder and decoding the replies above.

    The replies are fed to ib_async's byte handler with no socket and no simulator running, so no
    setup that uses ib_async can beat 1 / this many orders per second.
    """
    ib = offline_ib()
    ib.client.conn.sendMsg = lambda msg: None  # type: ignore[method-assign]
    aapl = Stock("AAPL", "SMART", "USD", conId=265598)
    start = time.perf_counter()
    for reply in replies:
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 1))
        ib.client._onSocketHasData(reply)
    elapsed = (time.perf_counter() - start) / len(replies)
    assert trade.orderStatus.status == "Filled"
    return elapsed


def report(run: Run, echo_p50_ms: float, count: int) -> None:
    seq_p50 = percentile(run.sequential, 0.5) * 1000
    throughput = count / run.pipelined_seconds
    print(f"-- {run.setup}")
    print(line("order -> fill, one at a time", run.sequential))
    print(line("order -> fill, pipelined", run.pipelined))
    took = f"({run.pipelined_seconds:.3f} s for {count})"
    print(f"{'throughput, pipelined':<44} {throughput:7.0f} orders/s {took}")
    print(f"{'ratio order p50 / echo p50':<44} {seq_p50 / echo_p50_ms:7.1f}x")
    print(f"{'ratio goal / order p50':<44} {P50_GOAL_MS / seq_p50:7.2f}x  (goal p50 < {P50_GOAL_MS} ms)")
    goal = f"(goal >= {THROUGHPUT_GOAL:.0f}/s)"
    print(f"{'ratio throughput / goal':<44} {throughput / THROUGHPUT_GOAL:7.2f}x  {goal}")
    met = seq_p50 < P50_GOAL_MS and throughput >= THROUGHPUT_GOAL
    print(f"{'goals':<44} {'MET' if met else 'NOT MET'}")


def report_floors(sim_seconds: float, client_seconds: float, runs: list[Run], count: int) -> None:
    print("-- each side alone, same frames, no socket (where the time goes)")
    for label, seconds in (
        ("simulator work per order", sim_seconds),
        ("ib_async work per order", client_seconds),
    ):
        print(f"{label:<44} {seconds * 1000:7.3f} ms  -> at most {1 / seconds:7.0f} orders/s")
    for run in runs:
        label = f"ib_async floor / time per order, {run.setup.split(' ')[2]} process"
        print(f"{label:<44} {client_seconds / (run.pipelined_seconds / count):7.0%}")


async def virtual_session(hours: float = 6.5) -> None:
    """A trading session on the paused virtual clock, one client streaming ticks, 5-s and 1-min bars.

    Shows what `--speed` can reach: the wall time one `advance` over the whole session takes, including
    ib_async decoding every tick and bar it is sent.
    """
    seconds = int(hours * 3600)
    clock = VirtualClock(dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC), running=False)
    async with SimServer(port=0, price_interval=1.0, clock=clock) as sim:
        ib = IB()
        await ib.connectAsync("127.0.0.1", sim.port, clientId=1, timeout=4)
        try:
            (aapl,) = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            ticker = ib.reqMktData(aapl)
            ticks = [0]
            ticker.updateEvent += lambda t: ticks.__setitem__(0, ticks[0] + len(t.ticks))
            fives = ib.reqRealTimeBars(aapl, 5, "TRADES", False)
            minutes = await ib.reqHistoricalDataAsync(
                aapl, "", "60 S", "1 min", "TRADES", False, keepUpToDate=True
            )
            await ib.reqCurrentTimeAsync()
            start = time.perf_counter()
            sim.control.advance(seconds)
            simulated = time.perf_counter() - start
            while len(fives) < seconds // 5:
                await ib.updateEvent
            took = time.perf_counter() - start
        finally:
            ib.disconnect()
    print(f"-- a {hours} h session on the virtual clock ({seconds} walk steps), one client streaming")
    received = f"{ticks[0]} / {len(fives)} / {len(minutes)}"
    print(f"{'ticks / 5-s bars / 1-min bars received':<44} {received}")
    print(f"{'simulator advance, wall':<44} {simulated:7.2f} s")
    rate = f"({seconds / took:,.0f}x real time)"
    print(f"{'until the client decoded the last bar, wall':<44} {took:7.2f} s  {rate}")


async def main(count: int, window: int, own: bool, as_json: bool = False) -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"ib_async request throttle: OFF (client.MaxRequests = 0); {count} market orders per phase")
    echo = await echo_round_trips(count)
    print(line("bare asyncio echo round trip (same run)", echo))
    echo_p50 = percentile(echo, 0.5) * 1000
    print(f"pipelined phase: at most {window} orders in flight")
    runs = [await in_process(count, window)]
    if own:
        runs.append(await own_process(count, window))
    for run in runs:
        report(run, echo_p50, count)
    sim_seconds, replies = simulator_floor(count)
    report_floors(sim_seconds, client_floor(replies), runs, count)
    await virtual_session()
    if as_json:
        figures: dict[str, object] = {"bench": "sim_roundtrip", "echo_p50_ms": round(echo_p50, 4)}
        for run in runs:
            where = "in_process" if "this process" in run.setup else "own_process"
            figures[f"{where}_order_p50_ms"] = round(percentile(run.sequential, 0.5) * 1000, 4)
            figures[f"{where}_order_p99_ms"] = round(percentile(run.sequential, 0.99) * 1000, 4)
            figures[f"{where}_orders_s"] = round(count / run.pipelined_seconds)
        print(json.dumps(figures))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2000, help="orders per phase (default %(default)s)")
    parser.add_argument(
        "--window", type=int, default=100, help="orders in flight when pipelined (default %(default)s)"
    )
    parser.add_argument("--in-process-only", action="store_true", help="skip the own-process setup")
    parser.add_argument("--json", action="store_true", help="end with one line of JSON: the figures")
    options = parser.parse_args()
    asyncio.run(main(options.orders, options.window, own=not options.in_process_only, as_json=options.json))
