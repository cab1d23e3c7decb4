"""`mats sim`: flags and the run loop; the lead wires these two functions into `mats`' own CLI."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .server import SimConfig, SimServer

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("mats.sim")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SimConfig()
    parser.add_argument("--host", default=defaults.host, help="interface to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=defaults.port, help="TWS API port (default %(default)s)")
    parser.add_argument(
        "--account", default=defaults.account, help="the one managed account (default %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="random-walk seed (default %(default)s)"
    )
    parser.add_argument(
        "--master-client-id",
        type=int,
        default=defaults.master_client_id,
        help="clientId that receives every client's order events (default %(default)s)",
    )
    parser.add_argument(
        "--max-clients",
        type=int,
        default=defaults.max_clients,
        help="connections accepted (default %(default)s)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=defaults.speed,
        help="virtual seconds per wall second: 60 runs a minute per second (default 1.0)",
    )
    parser.add_argument(
        "--start",
        default=defaults.start,
        help="ISO date/time the virtual clock starts at (default: now, or the first replayed bar)",
    )
    parser.add_argument(
        "--day-end",
        default=defaults.day_end,
        help="New York time DAY orders expire, '' for never (default %(default)s)",
    )
    parser.add_argument(
        "--pacing",
        action="store_true",
        help="enforce IB's pacing limits: 50 msg/s (error 100), historical (162), real-time bars (420)",
    )
    parser.add_argument(
        "--admin-port",
        type=int,
        default=defaults.admin_port,
        help="loopback HTTP/JSON admin endpoint for faults and control (0: any free port; default off)",
    )
    parser.add_argument(
        "--fill-latency",
        type=float,
        default=defaults.fill_latency,
        help="virtual seconds before each fill slice",
    )
    parser.add_argument("--fill-slices", type=int, default=defaults.fill_slices, help="executions per order")
    parser.add_argument(
        "--price-interval",
        type=float,
        default=defaults.price_interval,
        help="virtual seconds between random-walk steps; 0 freezes prices (default %(default)s)",
    )


def config_from_args(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        host=args.host,
        port=args.port,
        account=args.account,
        seed=args.seed,
        master_client_id=args.master_client_id,
        max_clients=args.max_clients,
        speed=args.speed,
        fill_latency=args.fill_latency,
        fill_slices=args.fill_slices,
        price_interval=args.price_interval,
        start=args.start,
        day_end=args.day_end,
        pacing=args.pacing,
        admin_port=args.admin_port,
    )


async def run(args: argparse.Namespace, bars: Mapping[str, pd.DataFrame] | None = None) -> None:
    """Serve until cancelled (Ctrl-C); logs connections and orders under the `mats.sim` loggers.

    `bars` (symbol → DataFrame of open/high/low/close/volume by bar start) are replayed as prices; the
    caller loads them (from ArcticDB, CSV…), the simulator never opens a store itself.
    """
    if not logging.getLogger().handlers:  # nobody configured logging: make the log readable anyway
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = SimServer(config_from_args(args), bars=bars)
    await server.start()
    if server.admin is not None:
        print(f"mats sim admin endpoint on http://127.0.0.1:{server.admin.port}/status", flush=True)
    print(
        f"mats sim listening on {server.config.host}:{server.port} "
        f"(account {server.account}, master client {server.master_client_id}); Ctrl-C stops it",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mats.sim", description="IB Gateway simulator")
    add_arguments(parser)
    parser.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        pass
