"""Ready-made (de)serializers: callables between bytes and values.

A deserializer takes the raw bytes of a Kafka key or value and returns a value; a serializer
does the reverse. Any callable with that shape works; these cover the common cases.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any

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


def json_deserializer(data: bytes) -> Any:
    """A JSON document."""
    return json.loads(data)


def json_serializer(value: Any) -> bytes:
    """Compact JSON as UTF-8."""
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def pickle_serializer(value: Any) -> bytes:
    """Python's pickle (only between processes running the same code)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def pickle_deserializer(data: bytes) -> Any:
    """Python's pickle (only from a trusted producer: it runs code)."""
    return pickle.loads(data)
