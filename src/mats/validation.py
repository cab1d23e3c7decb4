"""Where a msgspec validation error points, said the way a trader reads a settings file or a request body.

msgspec says ``Expected `int`, got `str` - at `$.ib.port```; people look for the key first. Settings errors
and API 4xx bodies both start with the key this finds.
"""

from __future__ import annotations

import re

import msgspec

_PATH = re.compile(r"`\$(?P<path>[^`]*)`")
_NAMED_FIELD = re.compile(r"Object (?P<what>contains unknown|missing required) field `(?P<field>[^`]+)`")


def locate(error: msgspec.ValidationError) -> tuple[str, str]:
    """(the dotted key, what is wrong with it); an unknown or missing field is named in the key itself,
    with ``unknown field`` or ``required`` as what is wrong."""
    text = str(error)
    message, _, where = text.rpartition(" - at ")
    if not message:
        message, where = text, ""
    found = _PATH.search(where)
    path = found.group("path").lstrip(".") if found else ""
    named = _NAMED_FIELD.match(message)
    if named is not None:
        key = f"{path}.{named.group('field')}" if path else named.group("field")
        return key, "unknown field" if named.group("what") == "contains unknown" else "required"
    return path, message


def field_message(error: msgspec.ValidationError) -> str:
    """``params.fast: Expected `int`, got `str``` (a request body's error, key first)."""
    key, problem = locate(error)
    return f"{key}: {problem}" if key else problem
