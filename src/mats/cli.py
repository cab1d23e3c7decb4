"""``mats [--config FILE] demo|serve|sim|backtest|data``.

Settings are loaded and validated before anything starts: a bad key or value prints one line naming it
and exits with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from mats import __version__
from mats.allocator import tune_malloc
from mats.backtest.cli_args import add_backtest_arguments, add_data_arguments
from mats.config import Settings, SettingsError, load_settings
from mats.logging import configure_logging

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mats",
        description="MATS: many strategies on one Interactive Brokers account.",
    )
    parser.add_argument("--version", action="version", version=f"mats {__version__}")
    parser.add_argument("--config", metavar="FILE", help="settings file (default ./mats.toml if present)")
    parser.add_argument("--log-format", choices=["console", "json"], help="override log.format")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="simulator + engine + API + UI in one process, demo strategies")
    demo.add_argument("--data-dir", default=".mats/demo", help="where the demo keeps its store")
    demo.add_argument("--web-port", type=int, help="API/UI port (default web.port; 0 picks a free one)")
    demo.add_argument("--sim-admin-port", type=int, help="expose the simulator's loopback admin endpoint")
    serve = commands.add_parser("serve", help="engine + API + UI against the configured IB Gateway / TWS")
    serve.add_argument("--web-port", type=int, help="API/UI port (default web.port; 0 picks a free one)")

    sim = commands.add_parser("sim", help="the IB Gateway simulator alone")
    _add_sim_arguments(sim)

    backtest = commands.add_parser("backtest", help="backtest a strategy, a book or a parameter sweep")
    add_backtest_arguments(backtest)
    data = commands.add_parser("data", help="market data in the store: import, synth, list")
    add_data_arguments(data)
    return parser


def _add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator owns its flags; the pinned ones (DESIGN.md section 7) are the fallback."""
    try:
        importlib.import_module("mats.sim.cli").add_arguments(parser)
    except ModuleNotFoundError:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=7497)
        parser.add_argument("--account", default="DU0000001")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--speed", type=float, default=1.0)
        parser.add_argument("--master-client-id", type=int, default=99)
        parser.add_argument("--max-clients", type=int, default=32)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        overrides: dict[str, Any] = {}
        if args.command == "demo":
            overrides["data_dir"] = args.data_dir
        if args.log_format:
            overrides["log"] = {"format": args.log_format}
        settings = load_settings(args.config, overrides=overrides)
    except SettingsError as exc:
        print(f"mats: settings error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.log.format, settings.log.level)
    if args.command in ("demo", "serve"):
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    if args.command == "sim":
        tune_malloc()  # a long-running simulator's heap, as the engine's (Engine.run)
    try:
        return asyncio.run(_dispatch(args, settings))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        refusal = _start_refusal(exc)
        if refusal is None:
            raise
        print(f"mats: cannot start: {refusal}", file=sys.stderr)
        return EXIT_USAGE


def _start_refusal(exc: BaseException) -> Exception | None:
    """The store's refusal to let this engine in (wrapped in task-group exception groups), if that is it."""
    from mats.store.lease import NamespaceInUse  # imported here: it pulls in pandas and ArcticDB

    if isinstance(exc, NamespaceInUse):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _start_refusal(inner)
            if found is not None:
                return found
    return None


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    log = structlog.get_logger("mats.cli")
    match args.command:
        case "demo" | "serve":
            from mats import launch

            log.info("mats.starting", command=args.command, data_dir=settings.data_dir)
            if args.command == "demo":
                await launch.demo(settings, web_port=args.web_port, sim_admin_port=args.sim_admin_port)
            else:
                await launch.serve(settings, web_port=args.web_port)
            return 0
        case "sim":
            await importlib.import_module("mats.sim.cli").run(args)
            return 0
        case "backtest":
            from mats.backtest.cli import run_backtest

            return await run_backtest(args, settings)
        case "data":
            from mats.backtest.cli import run_data

            return await run_data(args, settings)
        case _:
            print(f"mats: '{args.command}' is not available yet in this build", file=sys.stderr)
            return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
