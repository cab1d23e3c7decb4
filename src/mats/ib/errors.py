"""IB error and notice codes, classified once, so every caller reacts to a code the same way.

IB mixes information, warnings, connectivity signals and order outcomes into one ``error`` message.
The table of DESIGN.md section 3 (what each signal means for MATS) is encoded here as ``Signal``s.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Severity(StrEnum):
    INFO = "info"  # logged quietly
    WARNING = "warning"  # logged; nothing to do
    ERROR = "error"  # something failed; the caller must react
    ALERT = "alert"  # an operator should see it (connectivity, farms)


class Signal(StrEnum):
    """What MATS does about a code (DESIGN.md section 3)."""

    NONE = "none"
    CONNECTIVITY_LOST = "connectivity_lost"  # 1100: hold new orders, keep the socket
    RESTORED_DATA_KEPT = "restored_data_kept"  # 1102: reconcile, release held orders
    RESTORED_DATA_LOST = "restored_data_lost"  # 1101: resubscribe everything, then reconcile
    FARM_BROKEN = "farm_broken"  # 2103/2105/2157: mark the farm's streams stale
    FARM_OK = "farm_ok"  # 2104/2106/2158: re-request stale streams
    STREAM_DIED = "stream_died"  # 10182: re-request that one stream
    CLIENT_ID_IN_USE = "client_id_in_use"  # 326: back off and retry
    ORDER_REJECTED = "order_rejected"  # 201 and friends: the order is dead
    ORDER_CANCELLED = "order_cancelled"  # 202
    CANCEL_REFUSED = "cancel_refused"  # 10147/10148: unknown or already finished order
    PACING = "pacing"  # 100/162/420: slow down and retry later
    UNKNOWN_CONTRACT = "unknown_contract"  # 200
    NOT_SUPPORTED = "not_supported"  # 321 (also "validation failed": not fatal for modifies)


class ErrorClass(msgspec.Struct, frozen=True):
    code: int
    severity: Severity
    signal: Signal


_TABLE: dict[int, tuple[Severity, Signal]] = {
    100: (Severity.ERROR, Signal.PACING),
    162: (Severity.WARNING, Signal.PACING),
    420: (Severity.ERROR, Signal.PACING),
    103: (Severity.ERROR, Signal.ORDER_REJECTED),  # duplicate order id
    200: (Severity.ERROR, Signal.UNKNOWN_CONTRACT),
    201: (Severity.ERROR, Signal.ORDER_REJECTED),
    202: (Severity.INFO, Signal.ORDER_CANCELLED),
    203: (Severity.ERROR, Signal.ORDER_REJECTED),  # security not allowed for this account
    321: (Severity.WARNING, Signal.NOT_SUPPORTED),
    326: (Severity.ERROR, Signal.CLIENT_ID_IN_USE),
    1100: (Severity.ALERT, Signal.CONNECTIVITY_LOST),
    1101: (Severity.ALERT, Signal.RESTORED_DATA_LOST),
    1102: (Severity.ALERT, Signal.RESTORED_DATA_KEPT),
    2103: (Severity.ALERT, Signal.FARM_BROKEN),
    2105: (Severity.ALERT, Signal.FARM_BROKEN),
    2157: (Severity.ALERT, Signal.FARM_BROKEN),
    2104: (Severity.INFO, Signal.FARM_OK),
    2106: (Severity.INFO, Signal.FARM_OK),
    2158: (Severity.INFO, Signal.FARM_OK),
    10147: (Severity.WARNING, Signal.CANCEL_REFUSED),
    10148: (Severity.WARNING, Signal.CANCEL_REFUSED),
    10182: (Severity.WARNING, Signal.STREAM_DIED),
}

# Codes IB itself documents as warnings about an order that stays live.
_ORDER_WARNINGS = frozenset({105, 110, 165, 329, 399, 404, 434, 492, 10167})


def classify(code: int) -> ErrorClass:
    if code in _TABLE:
        severity, signal = _TABLE[code]
    elif code in _ORDER_WARNINGS or 2100 <= code < 2200:
        severity, signal = Severity.INFO if code >= 2100 else Severity.WARNING, Signal.NONE
    else:
        severity, signal = Severity.ERROR, Signal.NONE
    return ErrorClass(code=code, severity=severity, signal=signal)


def farm_of(message: str) -> str:
    """``Market data farm connection is OK:usfarm`` → ``usfarm`` (the farm whose streams are affected)."""
    _, _, farm = message.rpartition(":")
    return farm.strip() or "unknown"
