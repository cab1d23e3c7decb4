"""The IB side: clients by clientId, reconnects, pacing, error classification."""

from mats.ib.allocation import ClientAllocator
from mats.ib.connection import Backoff, ClientRole, ConnectionState, ManagedClient
from mats.ib.errors import ErrorClass, Severity, Signal, classify
from mats.ib.hub import IBHub
from mats.ib.pacing import HistoricalPacer, Pacing, SlidingWindow

__all__ = [
    "Backoff",
    "ClientAllocator",
    "ClientRole",
    "ConnectionState",
    "ErrorClass",
    "HistoricalPacer",
    "IBHub",
    "ManagedClient",
    "Pacing",
    "Severity",
    "Signal",
    "SlidingWindow",
    "classify",
]
