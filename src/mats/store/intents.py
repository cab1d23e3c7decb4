"""The order-intent log: an order is durable in microseconds, before it can reach IB, without a thread hop.

Journaling a new order through SQLite costs a hand-off to the journal thread and a commit (0.5 ms typical,
several ms at p99 on a busy 2-core box), and that sat on every order's path to IB. Instead, the
TradeManager appends the order's ``PendingSubmit`` event to this file with one ``os.write`` on the loop
thread, then sends it; the SQLite row follows through the journal's group commit off the loop.

Durability is the journal's default class (WAL with ``synchronous=NORMAL``): a completed ``write`` is in the
kernel's page cache, so it survives a crash or SIGKILL of the process, not a power cut. (With
``Durability.FULL`` the journal does not use this file: it awaits the fsynced commit instead.)

On open the journal folds every intent whose orderRef it does not know into SQLite, commits, and only then
empties the file; while running, the file is emptied whenever every intent written has been committed
(and it has grown past a threshold), on the loop, so no append can race the truncation. A torn last line
(a power cut mid-write) is skipped with a warning: that order never reached IB, since the send follows the
completed write.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import structlog

from mats.model import OrderStatus

log = structlog.get_logger(__name__)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(OrderStatus)


class IntentLog:
    """Append-only JSON lines of ``OrderStatus``; ``append`` is one ``os.write`` on an ``O_APPEND`` fd."""

    def __init__(self, path: str | Path, *, truncate_above: int = 256 * 1024) -> None:
        self.path = Path(path)
        self.truncate_above = truncate_above
        self.outstanding = 0  # appended, SQLite row not yet committed
        self.keep = False  # a row failed to commit: leave the file for the next open to fold
        self._fd: int | None = None
        self._size = 0

    def read(self) -> list[OrderStatus]:
        """Every intent in the file, in order (before ``open``; a torn or foreign line is skipped)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        intents: list[OrderStatus] = []
        for number, line in enumerate(data.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                intents.append(_decoder.decode(line))
            except msgspec.DecodeError as exc:
                log.warning("intents.unreadable_line", path=str(self.path), line=number, error=str(exc))
        return intents

    def open(self) -> None:
        """Open for appending, emptied: call once whatever ``read`` returned is committed elsewhere."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        self._size = 0
        self.outstanding = 0
        self.keep = False

    def append(self, status: OrderStatus) -> None:
        """Durable against a process crash when it returns (raises OSError if the write failed)."""
        if self._fd is None:
            raise OSError(f"intent log {self.path} is not open")
        line = _encoder.encode(status) + b"\n"
        written = os.write(self._fd, line)
        if written != len(line):  # a regular file takes it whole unless the disk is full
            raise OSError(f"intent log {self.path}: wrote {written} of {len(line)} bytes (disk full?)")
        self._size += written
        self.outstanding += 1

    def committed(self, ok: bool) -> None:
        """One appended intent's SQLite row committed (``ok``) or failed; empty the file when all are in."""
        self.outstanding -= 1
        if not ok:
            self.keep = True
        if self.outstanding == 0 and not self.keep and self._size > self.truncate_above:
            self._truncate()

    def close(self) -> None:
        """Close; the file is emptied when every intent reached SQLite, else kept for the next open."""
        if self._fd is None:
            return
        if self.outstanding == 0 and not self.keep:
            self._truncate()
        os.close(self._fd)
        self._fd = None

    def _truncate(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            self._size = 0
