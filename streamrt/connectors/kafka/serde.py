"""Ready-made (de)serializers: callables between bytes and values.

A deserializer takes the raw bytes of a Kafka key or value and returns a value; a serializer
does the reverse. Any callable with that shape works; these cover the common cases.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any

import orjson

__all__ = [
    "Deserializer",
    "Serializer",
    "bytes_deserializer",
    "bytes_serializer",
    "json_deserializer",
    "json_serializer",
    "pickle_deserializer",
    "pickle_serializer",
    "string_deserializer",
    "string_serializer",
]

#: ``bytes -> value`` (``None`` stays ``None``: tombstones and absent keys).
Deserializer = Callable[[bytes], Any]
#: ``value -> bytes``.
Serializer = Callable[[Any], bytes]


def bytes_deserializer(data: bytes) -> bytes:
    """The raw bytes (the default)."""
    return data


def bytes_serializer(value: bytes) -> bytes:
    """Bytes as they are; anything else is an error (name a serializer for it)."""
    if type(value) is bytes:  # the common case, without the isinstance tuple
        return value
    if not isinstance(value, (bytes, bytearray, memoryview)):
        msg = (
            f"value {value!r} of type {type(value).__name__} is not bytes; give the sink a "
            "serializer (string_serializer, json_serializer, or your own)"
        )
        raise TypeError(msg)
    return bytes(value)


def string_deserializer(data: bytes) -> str:
    """UTF-8 text."""
    return data.decode("utf-8")


def string_serializer(value: Any) -> bytes:
    """``str(value)`` as UTF-8."""
    return (value if isinstance(value, str) else str(value)).encode("utf-8")


# A JSON integer orjson cannot hold exactly (beyond -2**63 .. 2**64-1) has at least 19 digits;
# orjson would read it as a float, so a document with a run of 19 digits goes to the stdlib.
# Mapping every digit to "0" and the rest to " " makes that a substring test: two C loops, about
# half of orjson's parse of a 120-byte order (a regex search costs more than the whole parse;
# sampling every 9th byte first measured no faster).
_DIGITS_TO_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_NINETEEN_DIGITS = b"0" * 19
# bound once: one global lookup per record instead of a global and an attribute
_orjson_loads = orjson.loads
_orjson_dumps = orjson.dumps
_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS


def json_deserializer(data: bytes | str) -> Any:
    """A JSON document (UTF-8 bytes, or str): the value ``json.loads`` returns, parsed by orjson.

    Every document ``json.loads`` reads gives the same value; the stdlib reads the ones orjson
    rejects or would read differently (integers beyond 64 bits, ``NaN``/``Infinity``, a UTF-8
    byte-order mark, UTF-16/32, lone surrogate escapes, numbers overflowing to infinity), and a
    document neither reads raises the stdlib's error, as before orjson.

    Raises:
        json.JSONDecodeError: not JSON (message and position from ``json.loads``).
        UnicodeDecodeError: bytes that are no valid UTF-8, UTF-16 or UTF-32.
        TypeError: neither bytes, bytearray nor str.
        RecursionError: nested deeper than the interpreter's recursion limit.
    """
    raw = data if type(data) is bytes else _utf8(data)
    if raw is not None and _NINETEEN_DIGITS not in raw.translate(_DIGITS_TO_ZERO):
        try:
            return _orjson_loads(raw)
        except orjson.JSONDecodeError:
            pass  # the stdlib decides below: it reads more than orjson and names what it cannot
    return json.loads(data)


def _utf8(data: object) -> bytes | None:
    """``data`` as UTF-8 bytes for orjson, or ``None`` to leave it to ``json.loads``."""
    if isinstance(data, str):
        try:
            return data.encode()
        except UnicodeEncodeError:  # lone surrogates: only the stdlib reads those
            return None
    return None


def json_serializer(value: Any) -> bytes:
    """Compact JSON as UTF-8, written by orjson; ``json.loads`` reads it back equal.

    What orjson refuses, ``json.dumps`` writes as before (integers beyond 64 bits, subclasses of
    float and tuple such as named tuples, strings with lone surrogates, nesting past orjson's
    limit), so no value that serialized before fails now, and a value neither writes raises the
    stdlib's error. Differences from ``json.dumps``: non-ASCII text is written as UTF-8, not
    escaped to ASCII; ``NaN`` and infinities become ``null`` (valid JSON; the stdlib wrote the
    non-standard ``NaN`` tokens); dataclasses, ``datetime``/``date``/``time`` (RFC 3339), ``UUID``
    and ``Enum`` members serialize (the stdlib raised ``TypeError``), also as dict keys. Dict
    keys may be ``str``, ``int``, ``float``, ``bool`` or ``None`` as with the stdlib (a ``NaN``
    key is written ``"null"``, was ``"NaN"``).

    Raises:
        TypeError: a value ``json.dumps`` cannot serialize either (message from the stdlib).
        ValueError: a circular reference.
    """
    try:
        return _orjson_dumps(value, option=_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        pass  # the stdlib writes what orjson refuses, and raises the error users knew
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def pickle_serializer(value: Any) -> bytes:
    """Python's pickle (only between processes running the same code)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def pickle_deserializer(data: bytes) -> Any:
    """Python's pickle (only from a trusted producer: it runs code)."""
    return pickle.loads(data)
