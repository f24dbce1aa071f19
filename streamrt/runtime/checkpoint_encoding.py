"""The versioned encodings of what a checkpoint writes: state snapshots and the metadata file.

Two formats, both versioned by ``FORMAT_VERSION``:

**State snapshots** (one blob per task subtask) are pickles behind a fixed 22-byte header, all
fields big-endian::

    offset  size  field
    0       8     magic b"STRMRTCK"
    8       2     u16 format version
    10      4     u32 crc32 of the payload
    14      8     u64 payload length in bytes
    22      ...   payload: pickle.dumps(obj, protocol=5)

``decode`` checks, in this order, the magic, the version, the length and the checksum, and only
then unpickles, so a file that is not ours, from a newer streamrt, cut short by a crash or
flipped on disk is refused with a ``CheckpointError`` naming the file and what is wrong, and
never half-loaded. Unpickling runs code named in the payload: read only checkpoints you trust,
exactly as with any pickle (or Flink's Java serialization).

**The metadata file** (``_metadata``) is plain JSON text, indented, with a top-level
``"format_version"`` field and no binary header, so a human can ``cat`` it. JSON already detects
truncation (the document does not close), so it needs no length field; the checkpoint storage
keeps each blob's size and crc32 inside it. Metadata must be *JSON-plain* — dicts with ``str``
keys, lists, ``str``, ``int``, finite ``float``, ``bool``, ``None`` — and ``encode_json``
refuses anything else (a tuple, an ``int`` key, a ``range``) naming where it is, because
``json`` would silently turn those into something else and the restore would see a different
value than the checkpoint wrote. With that rule ``decode_json(encode_json(m), ...) == m``.

Port of the versioning idea of Flink's ``MetadataSerializers`` (a magic number and a version
in front of every ``_metadata``). Differences: pickle instead of Flink's type serializers,
JSON for the metadata, and one version for both formats.
"""

from __future__ import annotations

import json
import math
import pickle
import struct
import zlib
from collections.abc import Mapping
from typing import Any, Final

from streamrt.errors import CheckpointError

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "decode",
    "decode_json",
    "encode",
    "encode_json",
    "verify",
]

FORMAT_VERSION: Final = 1
"""The version this streamrt writes and the only one it reads."""

MAGIC: Final = b"STRMRTCK"
"""The first eight bytes of every encoded state snapshot."""

_HEADER: Final = struct.Struct(">8sHIQ")

HEADER_SIZE: Final = _HEADER.size
"""Bytes in front of the pickle payload (22)."""

_VERSION_FIELD: Final = "format_version"


def encode(obj: Any) -> bytes:
    """Encode one state snapshot: the versioned header, then ``obj`` pickled (protocol 5).

    Args:
        obj: the snapshot, typically an operator's ``state_dict()``.

    Returns:
        The bytes to store; ``decode`` turns them back into an equal object.

    Raises:
        CheckpointError: ``obj`` (or something inside it) cannot be pickled; the message names
            the type of ``obj`` and pickle's reason. The caller adds which operator it was.
    """
    try:
        payload = pickle.dumps(obj, protocol=5)
    except Exception as exc:  # pickle raises PicklingError, TypeError, AttributeError, ...
        msg = (
            f"cannot encode a state snapshot of type {_type_name(obj)}: {_reason(exc)}; "
            f"state must be picklable (plain data, or classes importable at module level)"
        )
        raise CheckpointError(msg) from exc
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, zlib.crc32(payload), len(payload))
    return header + payload


def verify(data: bytes | memoryview, size: int, crc: int, source: str, recorded: str) -> None:
    """Check ``data`` has the ``size`` and crc32 ``crc`` it was recorded with.

    Args:
        data: the bytes read.
        size: their length when written.
        crc: their crc32 when written.
        source: the file, for the message.
        recorded: how the message says where the size was recorded, between the actual and
            the recorded size (``"bytes where _metadata records"``).

    Raises:
        CheckpointError: ``data`` is shorter (truncated), longer or different (corrupt).
    """
    if len(data) < size:
        msg = f"{source} is truncated: {len(data)} of {size} bytes"
        raise CheckpointError(msg)
    if len(data) > size:
        msg = f"{source} is corrupt: {len(data)} {recorded} {size}"
        raise CheckpointError(msg)
    if zlib.crc32(data) != crc:
        msg = f"{source} is corrupt: checksum mismatch"
        raise CheckpointError(msg)


def decode(data: bytes, source: str) -> Any:
    """Decode one state snapshot written by ``encode``, checking everything before unpickling.

    Args:
        data: the whole content of the snapshot file.
        source: where ``data`` came from (a file path), named in every error.

    Returns:
        The unpickled snapshot.

    Raises:
        CheckpointError: ``data`` does not start with the magic (not a streamrt checkpoint
            file), is shorter than its header, has another format version, has fewer or more
            payload bytes than the header says, fails its crc32, or cannot be unpickled.
    """
    view = memoryview(data)
    # a prefix of the magic (or nothing) is a file cut short, not someone else's file
    if bytes(view[: len(MAGIC)]) != MAGIC[: len(view)]:
        msg = f"{source} is not a streamrt checkpoint file: it does not start with {MAGIC!r}"
        raise CheckpointError(msg)
    if len(view) < HEADER_SIZE:
        msg = f"{source} is truncated: {len(view)} of {HEADER_SIZE} header bytes"
        raise CheckpointError(msg)
    _magic, version, crc, length = _HEADER.unpack_from(view)
    _check_version(version, source)
    payload = view[HEADER_SIZE:]
    verify(payload, length, crc, source, "payload bytes where the header says")
    try:
        return pickle.loads(payload)  # checkpoints are trusted input, see the module docstring
    except Exception as exc:  # a missing module or class, or a payload our crc could not catch
        msg = f"{source} cannot be unpickled: {_reason(exc)}"
        raise CheckpointError(msg) from exc


def encode_json(obj: Mapping[str, Any]) -> bytes:
    """Encode checkpoint metadata as indented JSON text with a ``"format_version"`` field first.

    Args:
        obj: JSON-plain metadata (see the module docstring); ``"format_version"`` is reserved.

    Returns:
        UTF-8 JSON text ending in a newline.

    Raises:
        CheckpointError: ``obj`` holds a value that is not JSON-plain (the message gives its
            path, e.g. ``metadata['tasks'][0]['key_groups']``), or uses the reserved key.
    """
    if _VERSION_FIELD in obj:
        msg = f"metadata key {_VERSION_FIELD!r} is reserved for the encoding; rename it"
        raise CheckpointError(msg)
    _check_plain(dict(obj), "metadata")
    document = {_VERSION_FIELD: FORMAT_VERSION, **obj}
    return (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def decode_json(data: bytes, source: str) -> dict[str, Any]:
    """Decode checkpoint metadata written by ``encode_json``.

    Args:
        data: the whole content of the metadata file.
        source: where ``data`` came from (a file path), named in every error.

    Returns:
        The metadata as given to ``encode_json`` (without ``"format_version"``).

    Raises:
        CheckpointError: ``data`` is empty or ends before the JSON document does (truncated),
            is not UTF-8 JSON, is not a JSON object with an integer ``"format_version"`` (not
            a streamrt metadata file), or has another format version.
    """
    if not data.strip():
        msg = f"{source} is truncated: the file is empty"
        raise CheckpointError(msg)
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        if exc.end >= len(data):  # a character cut in half by the end of the file
            msg = f"{source} is truncated: the json document ends after {len(data)} bytes"
        else:
            msg = f"{source} is not a streamrt checkpoint metadata file: not utf-8 text ({exc})"
        raise CheckpointError(msg) from exc
    if not text.lstrip().startswith("{"):
        msg = f"{source} is not a streamrt checkpoint metadata file: it does not start with '{{'"
        raise CheckpointError(msg)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # encode_json's document ends with its closing brace; without it, or failing only at
        # the very end, the file was cut short (a string cut open fails where it starts)
        stripped = text.rstrip()
        if not stripped.endswith("}") or exc.pos >= len(stripped):
            msg = f"{source} is truncated: the json document ends after {len(data)} bytes"
        else:
            msg = f"{source} is corrupt: not valid json ({exc})"
        raise CheckpointError(msg) from exc
    # json.loads starts with '{' here, so a parsed document is always an object
    metadata: dict[str, Any] = document
    version = metadata.get(_VERSION_FIELD)
    if not isinstance(version, int) or isinstance(version, bool):
        msg = (
            f"{source} is not a streamrt checkpoint metadata file: "
            f"expected a json object with an integer {_VERSION_FIELD!r} field"
        )
        raise CheckpointError(msg)
    _check_version(version, source)
    del metadata[_VERSION_FIELD]
    return metadata


def _check_version(version: int, source: str) -> None:
    if version != FORMAT_VERSION:
        msg = f"{source} has format version {version}; this streamrt reads version {FORMAT_VERSION}"
        raise CheckpointError(msg)


def _check_plain(value: Any, path: str) -> None:
    """Refuse what ``json`` would silently change (tuples, non-str keys) or cannot write."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            msg = f"{path} is {value!r}; checkpoint metadata holds only finite floats"
            raise CheckpointError(msg)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                msg = (
                    f"{path} has the key {key!r} of type {_type_name(key)}; checkpoint "
                    f"metadata keys must be str (json would turn it into a string)"
                )
                raise CheckpointError(msg)
            _check_plain(item, f"{path}[{key!r}]")
        return
    msg = (
        f"{path} is a {_type_name(value)}; checkpoint metadata holds only json values "
        f"(dict with str keys, list, str, int, float, bool, None): convert it, e.g. a tuple "
        f"or range to a list"
    )
    raise CheckpointError(msg)


def _type_name(obj: object) -> str:
    cls = type(obj)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
