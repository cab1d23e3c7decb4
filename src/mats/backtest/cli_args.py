"""The arguments of ``mats backtest`` and ``mats data``: argparse only, so building the parser is cheap.

``mats.cli`` calls these on its sub-parsers and hands the parsed arguments to the handlers in
:mod:`mats.backtest.cli`.
"""

from __future__ import annotations

import argparse


def add_backtest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "strategy",
        nargs="?",
        help="class reference, e.g. strategies.sma_cross:SmaCross (omit with --book)",
    )
    parser.add_argument(
        "--book", action="store_true", help="backtest the settings file's [[strategies]] as one book"
    )
    parser.add_argument(
        "--symbol", action="append", default=[], help="bars market_data/SYMBOL_BAR-SIZE (repeatable)"
    )
    parser.add_argument("--bar-size", default="1min", help="which stored bars (default 1min)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a strategy param")
    parser.add_argument("--start", help="first bar time (ISO, UTC if no offset)")
    parser.add_argument("--end", help="last bar time (ISO, UTC if no offset)")
    parser.add_argument("--synth", type=int, metavar="BARS", help="use BARS seeded random-walk bars instead")
    parser.add_argument("--seed", type=int, default=1, help="seed of --synth bars")
    parser.add_argument("--cash", type=float, default=100_000.0)
    parser.add_argument(
        "--commission", type=float, help="per share/contract (0 = none; default IB-like tiers)"
    )
    parser.add_argument("--slippage", type=float, default=0.0, help="fraction of price, e.g. 0.0001")
    parser.add_argument("--png", metavar="FILE", help="write the equity curve to a PNG file")
    parser.add_argument("--no-save", action="store_true", help="do not write results to backtests/")
    parser.add_argument("--run-id", help="name of the stored run (default generated)")
    parser.add_argument(
        "--sweep", action="append", default=[], metavar="NAME=V1,V2,…", help="sweep a param (repeatable)"
    )
    parser.add_argument("--cluster", metavar="tcp://HOST:8786", help="Dask scheduler of a real cluster")
    parser.add_argument("--workers", type=int, help="local workers for --sweep (default every core)")
    parser.add_argument("--threads", action="store_true", help="local sweep workers as threads")
    parser.add_argument("--out", metavar="FILE.csv", help="also write the sweep table to a CSV file")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    imp = actions.add_parser("import", help="import OHLCV bars from a CSV file (validated before writing)")
    imp.add_argument("file")
    imp.add_argument("--symbol", required=True)
    imp.add_argument("--bar-size", default="1min")
    imp.add_argument("--tz", help="zone of naive timestamps (default: timestamps must carry an offset)")
    imp.add_argument("--append", action="store_true", help="append after the stored bars (else replace)")
    synth = actions.add_parser("synth", help="write a seeded random walk of bars")
    synth.add_argument("--symbol", required=True)
    synth.add_argument("--bars", type=int, default=100_000)
    synth.add_argument("--seed", type=int, default=1)
    synth.add_argument("--bar-size", default="1min")
    synth.add_argument("--start", default="2024-01-02 14:30", help="first bar (UTC)")
    synth.add_argument("--price", type=float, default=100.0)
    actions.add_parser("list", help="list the stored bars")
