"""The TWS API wire format: the handshake, length-prefixed NUL-separated frames, and field text.

Nothing here knows what a message means; `inbound` and `outbound` give the fields their meaning.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

HANDSHAKE_MAGIC = b"API\0"
#: The real Gateway refuses frames above 16 MiB; so do we, before buffering them.
MAX_FRAME_BYTES = 0xFFFFFF
#: IB's "unset" sentinels. ib_async sends both as empty fields; we accept either form.
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1
#: How real TWS writes an unset double (Java's Double.MAX_VALUE).
UNSET_DOUBLE_TEXT = "1.7976931348623157E308"

_LENGTH = struct.Struct(">I")
_VERSION_RANGE = re.compile(rb"^v(\d+)(?:\.\.(\d+))?(?:\s+(.*))?$", re.DOTALL)

Field = str | int | float | bool | Decimal | None


class ProtocolError(Exception):
    """The peer sent bytes that cannot be a TWS API message; the session must close."""


class MalformedMessage(Exception):
    """A well-framed message whose fields do not fit its message id; the session answers and goes on."""


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a client offers before any message: a version range and optional connect options."""

    min_version: int
    max_version: int
    options: str


def parse_handshake(buffer: bytes) -> tuple[Handshake, int] | None:
    """Read `API\\0` + a length-prefixed `v157..178[ +PACEAPI]`; None until enough bytes have arrived.

    Returns the handshake and how many bytes it took. The prefix holds NUL bytes, so the text is
    located by its length, never by splitting on NUL.
    """
    if len(buffer) < len(HANDSHAKE_MAGIC):
        if not HANDSHAKE_MAGIC.startswith(buffer):
            raise ProtocolError(f"not a TWS API client: starts with {buffer!r}")
        return None
    if not buffer.startswith(HANDSHAKE_MAGIC):
        raise ProtocolError(f"not a TWS API client: starts with {buffer[:8]!r}")
    head = len(HANDSHAKE_MAGIC)
    if len(buffer) < head + _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack_from(buffer, head)
    if size > 1024:
        raise ProtocolError(f"handshake length {size} is not a version range")
    end = head + _LENGTH.size + size
    if len(buffer) < end:
        return None
    text = buffer[head + _LENGTH.size : end].strip(b"\0 ")
    match = _VERSION_RANGE.match(text)
    if match is None:
        raise ProtocolError(f"handshake {text!r} is not 'vMIN..MAX'")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    options = (match.group(3) or b"").decode(errors="replace").strip()
    return Handshake(low, high, options), end


def frame(payload: bytes) -> bytes:
    """Prefix a payload with its 4-byte big-endian length."""
    return _LENGTH.pack(len(payload)) + payload


def format_field(value: Field) -> str:
    """Text of one field as TWS writes it: booleans 1/0, unset numbers empty, Decimal without exponent.

    A str passes through untouched, so a pre-joined run of fields ("a\0b\0c", see `join_fields`)
    can stand in a field list for the fields it holds.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is int:
        return "" if value == UNSET_INTEGER else str(value)
    if kind is bool:
        return "1" if value else "0"
    if kind is float:
        if value == UNSET_DOUBLE:
            return ""
        if math.isinf(value):  # type: ignore[arg-type]
            return "Infinite"
        return repr(value)
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)  # str subclasses (StrEnum) and anything else with a faithful str()


def join_fields(fields: Iterable[Field]) -> str:
    """Several fields as one pre-encoded field (for runs that never change, cached by the caller)."""
    return "\0".join(map(format_field, fields))


def encode(fields: Iterable[Field]) -> bytes:
    """One framed message from its fields."""
    payload = ("\0".join(map(format_field, fields)) + "\0").encode()
    return frame(payload)


class FrameReader:
    """Splits a byte stream into messages (lists of field strings), refusing absurd frame sizes early."""

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame

    def feed(self, data: bytes) -> list[list[str]]:
        self._buffer += data
        messages: list[list[str]] = []
        while len(self._buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._buffer, 0)
            if size > self._max_frame:
                raise ProtocolError(f"frame of {size} bytes exceeds the {self._max_frame}-byte limit")
            end = _LENGTH.size + size
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[_LENGTH.size : end])
            del self._buffer[:end]
            messages.append(split_fields(payload))
        return messages

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)


def split_fields(payload: bytes) -> list[str]:
    """Fields of one payload; each field ends in NUL, so the last split piece is dropped."""
    text = payload.decode(errors="replace")
    parts = text.split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


class FieldReader:
    """A cursor over a message's fields with typed reads; running out raises MalformedMessage."""

    __slots__ = ("_fields", "_pos")

    def __init__(self, fields: Sequence[str], start: int = 0) -> None:
        self._fields = fields
        self._pos = start

    @property
    def remaining(self) -> int:
        return len(self._fields) - self._pos

    def text(self) -> str:
        if self._pos >= len(self._fields):
            raise MalformedMessage(f"message ended after {len(self._fields)} fields")
        value = self._fields[self._pos]
        self._pos += 1
        return value

    def skip(self, count: int = 1) -> None:
        if self._pos + count > len(self._fields):
            raise MalformedMessage(f"message ended after {len(self._fields)} fields")
        self._pos += count

    def integer(self, default: int = 0) -> int:
        text = self.text()
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            try:
                return int(float(text))
            except ValueError:
                raise MalformedMessage(f"field {self._pos - 1} is {text!r}, not an integer") from None

    def number(self, default: float = UNSET_DOUBLE) -> float:
        text = self.text()
        if not text:
            return default
        if text == "Infinite":
            return math.inf
        try:
            value = float(text)
        except ValueError:
            raise MalformedMessage(f"field {self._pos - 1} is {text!r}, not a number") from None
        if math.isnan(value):
            raise MalformedMessage(f"field {self._pos - 1} is NaN")
        return value

    def quantity(self) -> Decimal:
        text = self.text()
        if not text:
            return Decimal(0)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise MalformedMessage(f"field {self._pos - 1} is {text!r}, not a quantity") from None
        if not value.is_finite():
            raise MalformedMessage(f"field {self._pos - 1} is {text!r}, not a finite quantity")
        return value

    def flag(self) -> bool:
        text = self.text()
        return bool(text) and text not in ("0", "false", "False")
