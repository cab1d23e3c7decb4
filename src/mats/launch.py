"""What ``mats serve`` and ``mats demo`` put together; the CLI only parses arguments and calls these.

``serve``: the engine, its IB clients against the configured Gateway/TWS, and the API + UI.
``demo``: the same, against an in-process simulator on an ephemeral loopback port, on its own data dir.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import TextIO

import msgspec
import structlog

from mats.api.auth import ApiToken, load_or_create_token
from mats.api.server import ApiServer
from mats.config import Settings
from mats.engine import Component, Engine
from mats.ib.connection import Backoff
from mats.ib.hub import IBHub
from mats.model import StrategySpec
from mats.storage import StoreComponent
from mats.trading import LiveTrading

log = structlog.get_logger("mats.launch")

# Three strategies on different instruments; the pulse trades every 10 s so fills show up at once.
DEMO_STRATEGIES = [
    StrategySpec(
        "pulse_aapl",
        "strategies.pulse:Pulse",
        ["AAPL"],
        {"qty": 10, "every": 2},
        0.1,
        bar_size="5s",
        autostart=True,
    ),
    StrategySpec(
        "sma_msft",
        "strategies.sma_cross:SmaCross",
        ["MSFT"],
        {"fast": 5, "slow": 20, "qty": 20},
        0.2,
        bar_size="1min",
        autostart=True,
    ),
    StrategySpec(
        "pulse_eurusd",
        "strategies.pulse:Pulse",
        ["EUR.USD"],
        {"qty": 10000, "every": 6, "direction": -1},
        0.1,
        bar_size="5s",
        autostart=True,
    ),
]


def live_engine(
    settings: Settings,
    *,
    store: StoreComponent | None = None,
    backoff: Backoff | None = None,
    after: Sequence[Component] = (),
) -> tuple[Engine, LiveTrading]:
    """The live path's wiring, in start order: the store (if any), the IB clients, LiveTrading, then
    ``after`` (the API, say). Tests and benchmarks build the same engine ``mats serve`` runs from here."""
    engine = Engine(settings)
    engine.hub = IBHub(settings.ib, bus=engine.bus, backoff=backoff)
    trading = engine.trading = LiveTrading()
    components: list[Component] = [store] if store is not None else []
    engine.components.extend([*components, engine.hub, trading, *after])
    return engine, trading


def build_engine(
    settings: Settings, token: ApiToken, *, web_port: int | None = None
) -> tuple[Engine, ApiServer]:
    store = StoreComponent(
        settings.resolved_arctic_uri, settings.storage.namespace, thread_nice=settings.storage.thread_nice
    )
    api = ApiServer(token, port=web_port)
    engine, _ = live_engine(settings, store=store, after=[api])
    return engine, api


async def serve(settings: Settings, *, web_port: int | None = None, out: TextIO = sys.stdout) -> None:
    token = load_or_create_token(settings.data_dir)
    engine, api = build_engine(settings, token, web_port=web_port)

    async def announce() -> None:
        shown = token.reveal() if token.generated else f"in {settings.data_dir}/api_token (or MATS_API_TOKEN)"
        _print_banner(out, api.url, shown, extra=f"IB Gateway/TWS: {settings.ib.host}:{settings.ib.port}")

    await engine.run(on_ready=announce)


DEMO_BARS = (("AAPL", 190.0, 11), ("MSFT", 410.0, 12), ("EUR.USD", 1.08, 13))


async def seed_demo_bars(arctic_uri: str, *, minutes: int = 20_000) -> list[str]:
    """Give the demo's store some history (``market_data/{SYMBOL}_1min``, ending now) so backtests and the
    Data page have bars to show; symbols already stored are left alone. The demo is their one writer."""
    import pandas as pd

    from mats.backtest.data import market_data_symbol, synth_bars
    from mats.backtest.storage import MARKET_DATA, write_bars
    from mats.store.arctic import ArcticStore

    start = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(minutes=minutes)
    written = []
    async with ArcticStore(arctic_uri) as store:
        stored = (
            await store.list_symbols(MARKET_DATA, refresh=True)
            if MARKET_DATA in await store.list_libraries()
            else []
        )
        for symbol, price, seed in DEMO_BARS:
            name = market_data_symbol(symbol, "1min")
            if name not in stored:
                bars = synth_bars(minutes, seed=seed, start=start, price=price, volatility=0.0005)
                await write_bars(store, name, bars, source="mats demo (synthetic)")
                written.append(name)
    return written


async def demo(
    settings: Settings,
    *,
    web_port: int | None = None,
    sim_admin_port: int | None = None,
    out: TextIO = sys.stdout,
) -> None:
    """Everything in one process: the simulator, the engine and the API, on ``settings.data_dir``."""
    from mats.sim import SimServer  # the simulator is only needed here

    async with AsyncExitStack() as stack:
        sim = await stack.enter_async_context(
            SimServer(host="127.0.0.1", port=0, account="DU0000001", admin_port=sim_admin_port)
        )
        ib = msgspec.structs.replace(settings.ib, host="127.0.0.1", port=sim.port, account="DU0000001")
        settings = msgspec.structs.replace(settings, ib=ib, strategies=settings.strategies or DEMO_STRATEGIES)
        seeded = await seed_demo_bars(settings.resolved_arctic_uri)
        if seeded:
            log.info("demo.bars_seeded", symbols=seeded)
        token = load_or_create_token(settings.data_dir)
        engine, api = build_engine(settings, token, web_port=web_port)

        async def announce() -> None:
            admin = f", admin http://127.0.0.1:{sim.admin.port}" if sim.admin is not None else ""
            extra = f"simulator: 127.0.0.1:{sim.port} (account DU0000001){admin}"
            _print_banner(out, api.url, token.reveal(), extra=extra)

        await engine.run(on_ready=announce)


def _print_banner(out: TextIO, url: str, token: str, *, extra: str) -> None:
    """The token is printed for the person at the terminal; it never goes to the logs."""
    print(f"MATS is running: {url}/", file=out)
    print(f"  API token: {token}", file=out)
    print(f"  {extra}", file=out)
    print("  Ctrl-C stops it.", file=out, flush=True)
