"""The async notebook SDK: ``async with mats.sdk.connect(url, token) as m:`` — reads as DataFrames,
``stream()`` yields typed events. Depends only on ``mats.model`` inside MATS (plus httpx, websockets,
pandas, msgspec), so a notebook needs no engine."""

from mats.sdk.backtests import BacktestRun
from mats.sdk.client import Client, connect
from mats.sdk.errors import BacktestFailed, MatsApiError
from mats.sdk.events import GAP, Event, EventStream

__all__ = [
    "GAP", "BacktestFailed", "BacktestRun", "Client", "Event", "EventStream", "MatsApiError", "connect",
]  # fmt: skip
