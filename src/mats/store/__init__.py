"""Storage: the journal (durable first), ArcticDB (system of record) and the flusher between them."""

from mats.store.arctic import SHARED_LIBRARIES, ArcticStore, BatchError, StoreError, default_uri
from mats.store.crashpoints import crash_point
from mats.store.fills import FoldedFills, fold_fills
from mats.store.flusher import Flusher
from mats.store.journal import (
    CommissionRecorded,
    Durability,
    FillRecorded,
    Journal,
    JournalError,
    OrderEventRecorded,
)
from mats.store.maintenance import compact_all
from mats.store.reader import FillsReader

__all__ = [
    "SHARED_LIBRARIES",
    "ArcticStore",
    "BatchError",
    "CommissionRecorded",
    "Durability",
    "FillRecorded",
    "FillsReader",
    "Flusher",
    "FoldedFills",
    "Journal",
    "JournalError",
    "OrderEventRecorded",
    "StoreError",
    "compact_all",
    "crash_point",
    "default_uri",
    "fold_fills",
]
