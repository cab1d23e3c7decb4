"""Named crash points: hard-kill the process at a chosen spot so tests can prove recovery.

``MATS_CRASH_AT=name`` kills the process the first time ``crash_point("name")`` runs; ``name@N`` kills it on
the N-th time (so a test can let a few flushes through first). The kill is SIGKILL to ourselves: no
``finally``, no atexit, no buffered write gets out — exactly what a power cut or an OOM kill leaves behind.

``MATS_CRASH_AT_FILE=path`` arms a running process instead: the spec is read from that file whenever a
crash point runs, and only while the file exists — so a test can restart the engine cleanly, check what it
rebuilt, and only then choose where it dies next (tests/crashes/test_crash_loop.py). Hits count from the
moment the file names the point. Unset, a crash point costs two dict lookups.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "MATS_CRASH_AT"
FILE_ENV_VAR = "MATS_CRASH_AT_FILE"

AFTER_COMMIT = "after_commit"
MID_FLUSH = "mid_flush"
AFTER_ARCTIC_APPEND_BEFORE_MARK = "after_arctic_append_before_mark"
AFTER_SEND_BEFORE_JOURNAL = "after_send_before_journal"  # an order reached IB; its status was not journaled
MID_RECONCILE = "mid_reconcile"  # the books were measured; locks and the report were not written

NAMES = (AFTER_COMMIT, MID_FLUSH, AFTER_ARCTIC_APPEND_BEFORE_MARK, AFTER_SEND_BEFORE_JOURNAL, MID_RECONCILE)

_hits: dict[str, int] = {}


def _spec() -> str:
    spec = os.environ.get(ENV_VAR, "")
    if spec:
        return spec
    path = os.environ.get(FILE_ENV_VAR, "")
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as armed:
            return armed.read().strip()
    except FileNotFoundError:
        return ""


def _target() -> tuple[str, int] | None:
    spec = _spec()
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    return name, int(nth) if nth.isdigit() else 1


def crash_point(name: str) -> None:
    """SIGKILL this process if ``MATS_CRASH_AT`` (or the armed file) names this point, hit often enough."""
    target = _target()
    if target is None or target[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
