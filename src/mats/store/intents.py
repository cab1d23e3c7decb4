"""The order-intent log: an order is durable in microseconds, before it can reach IB, without a thread hop.

Journaling a new order through SQLite costs a hand-off to the journal thread and a commit (0.5 ms typical,
several ms at p99 on a busy 2-core box), and that sat on every order's path to IB. Instead, the
TradeManager appends the order's ``PendingSubmit`` event to this file on the loop thread (a memory copy
into the file's mapped pages), then sends it; the SQLite row follows through the journal's group commit
off the loop.

Durability is the journal's default class (WAL with ``synchronous=NORMAL``): a completed append is in the
kernel's page cache, so it survives a crash or SIGKILL of the process, not a power cut. (With
``Durability.FULL`` the journal does not use this file: it awaits the fsynced commit instead.)

On open the journal folds every intent whose orderRef it does not know into SQLite, commits, and only then
empties the file; while running, the file is zeroed in place whenever every intent written has been
committed (and they fill more than a threshold), on the loop, so no append can race the zeroing. A torn
last line (a crash mid-append) is skipped with a warning: that order never reached IB, since the send
follows the completed append.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import msgspec
import structlog

from mats.model import OrderStatus

log = structlog.get_logger(__name__)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(OrderStatus)


class IntentLog:
    """Append-only JSON lines of ``OrderStatus`` in a memory-mapped file (zeros after the last line).

    An append is a memory copy into the file's pages, with no system call: an ``os.write`` released the GIL
    in the middle of an order's path, and a journal or storage thread waiting for it could then hold the
    loop for up to a switch interval. The pages are the file's page cache (``MAP_SHARED``), so a completed
    append survives a crash of the process exactly as a completed ``write`` did."""

    def __init__(
        self, path: str | Path, *, truncate_above: int = 256 * 1024, capacity: int = 1024 * 1024
    ) -> None:
        self.path = Path(path)
        self.truncate_above = truncate_above
        self.outstanding = 0  # appended, SQLite row not yet committed
        self.keep = False  # a row failed to commit: leave the file for the next open to fold
        self._capacity = max(capacity, mmap.PAGESIZE)
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self._size = 0  # bytes of intents from the start of the file

    def read(self) -> list[OrderStatus]:
        """Every intent in the file, in order (before ``open``; a torn or foreign line is skipped)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        intents: list[OrderStatus] = []
        for number, line in enumerate(data.rstrip(b"\0").split(b"\n"), 1):
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
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        _allocate(self._fd, 0, self._capacity)
        self._map = mmap.mmap(self._fd, self._capacity)
        self._size = 0
        self.outstanding = 0
        self.keep = False

    def append(self, status: OrderStatus) -> None:
        """Durable against a process crash when it returns (raises OSError if the file cannot grow)."""
        if self._map is None:
            raise OSError(f"intent log {self.path} is not open")
        line = _encoder.encode(status) + b"\n"
        end = self._size + len(line)
        if end > len(self._map):  # the journal thread fell far behind: rare, so system calls are fine
            assert self._fd is not None
            size = max(2 * len(self._map), end)
            _allocate(self._fd, len(self._map), size - len(self._map))
            self._map.resize(size)
        self._map[self._size : end] = line
        self._size = end
        self.outstanding += 1

    def committed(self, ok: bool) -> None:
        """One appended intent's SQLite row committed (``ok``) or failed; empty the file when all are in."""
        self.outstanding -= 1
        if not ok:
            self.keep = True
        if self.outstanding == 0 and not self.keep and self._size > self.truncate_above:
            assert self._map is not None
            self._map[: self._size] = bytes(self._size)  # in place: the file's blocks stay allocated
            self._size = 0

    def close(self) -> None:
        """Close; the file is emptied when every intent reached SQLite, else kept for the next open."""
        if self._fd is None or self._map is None:
            return
        self._map.close()
        if self.outstanding == 0 and not self.keep:
            os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd, self._map = None, None
        self._size = 0


def _allocate(fd: int, offset: int, length: int) -> None:
    """Reserve the file's blocks before they are mapped: a full disk then fails here, with ENOSPC, rather
    than as a SIGBUS on an append's first touch of a page the filesystem cannot back."""
    os.posix_fallocate(fd, offset, length)
