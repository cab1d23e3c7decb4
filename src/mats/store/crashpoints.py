"""Named crash points: hard-kill the process at a chosen spot so tests can prove recovery.

``MATS_CRASH_AT=name`` kills the process the first time ``crash_point("name")`` runs; ``name@N`` kills it on
the N-th time (so a test can let a few flushes through first). The kill is SIGKILL to ourselves: no
``finally``, no atexit, no buffered write gets out — exactly what a power cut or an OOM kill leaves behind.
Unset, a crash point costs one dict lookup."""

from __future__ import annotations

import os
import signal

ENV_VAR = "MATS_CRASH_AT"

AFTER_COMMIT = "after_commit"
MID_FLUSH = "mid_flush"
AFTER_ARCTIC_APPEND_BEFORE_MARK = "after_arctic_append_before_mark"
AFTER_SEND_BEFORE_JOURNAL = "after_send_before_journal"  # an order reached IB; its status was not journaled
MID_RECONCILE = "mid_reconcile"  # the books were measured; locks and the report were not written

_hits: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(ENV_VAR, "")
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    return name, int(nth) if nth.isdigit() else 1


def crash_point(name: str) -> None:
    """SIGKILL this process if ``MATS_CRASH_AT`` names this point (and its hit count is reached)."""
    target = _target()
    if target is None or target[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
