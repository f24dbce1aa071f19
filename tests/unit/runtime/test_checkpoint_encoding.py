"""The versioned envelope refuses anything it cannot load whole, naming the file and the fault."""

from __future__ import annotations

import json
import pickle
import struct
import threading
import zlib
from dataclasses import dataclass

import pytest

from streamrt.errors import CheckpointError
from streamrt.runtime.checkpoint_encoding import (
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    decode,
    decode_json,
    encode,
    encode_json,
)

SOURCE = "/ckpt/chk-3/map-0"


@dataclass
class Counter:
    key: str
    count: int


def _envelope(payload: bytes, *, version: int = FORMAT_VERSION) -> bytes:
    return struct.pack(">8sHIQ", MAGIC, version, zlib.crc32(payload), len(payload)) + payload


@pytest.mark.parametrize(
    "snapshot",
    [
        None,
        {"counts": {"a": 1, "b": 2}, "offsets": [(0, 17), (1, 4)]},
        {"timers": {5, 9}, "buffer": b"\x00\xff", "last": Counter("k", 3)},
        range(128),
    ],
)
def test_round_trip(snapshot: object) -> None:
    assert snapshot == decode(encode(snapshot), SOURCE)


def test_header_is_magic_version_crc_length_big_endian() -> None:
    data = encode({"x": 1})
    payload = data[HEADER_SIZE:]
    assert HEADER_SIZE == 22
    assert (MAGIC, FORMAT_VERSION, zlib.crc32(payload), len(payload)) == struct.unpack(
        ">8sHIQ", data[:HEADER_SIZE]
    )
    assert pickle.loads(payload) == {"x": 1}


def test_unpicklable_state_names_its_type() -> None:
    with pytest.raises(CheckpointError, match=r"state snapshot of type dict: .*_thread\.lock"):
        encode({"lock": threading.Lock()})


def test_wrong_magic_is_not_a_checkpoint_file() -> None:
    with pytest.raises(CheckpointError) as caught:
        decode(b"PK\x03\x04" + bytes(40), SOURCE)
    assert f"{SOURCE} is not a streamrt checkpoint file: it does not start with {MAGIC!r}" == str(
        caught.value
    )


@pytest.mark.parametrize("length", [0, 5, 8, 21])
def test_a_cut_header_is_truncated(length: int) -> None:
    with pytest.raises(CheckpointError) as caught:
        decode(encode("x")[:length], SOURCE)
    assert f"{SOURCE} is truncated: {length} of 22 header bytes" == str(caught.value)


def test_unknown_version_is_refused() -> None:
    with pytest.raises(CheckpointError) as caught:
        decode(_envelope(pickle.dumps(1), version=7), SOURCE)
    assert f"{SOURCE} has format version 7; this streamrt reads version 1" == str(caught.value)


def test_truncated_payload_says_how_much_is_there() -> None:
    data = encode(list(range(100)))
    length = len(data) - HEADER_SIZE
    with pytest.raises(CheckpointError) as caught:
        decode(data[:-10], SOURCE)
    assert f"{SOURCE} is truncated: {length - 10} of {length} bytes" == str(caught.value)


def test_trailing_bytes_are_corrupt() -> None:
    with pytest.raises(CheckpointError, match=r"is corrupt: \d+ payload bytes where the header"):
        decode(encode("x") + b"\x00", SOURCE)


def test_flipped_byte_fails_the_checksum() -> None:
    data = bytearray(encode({"counts": list(range(50))}))
    data[-5] ^= 0x01
    with pytest.raises(CheckpointError) as caught:
        decode(bytes(data), SOURCE)
    assert f"{SOURCE} is corrupt: checksum mismatch" == str(caught.value)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not a pickle", "UnpicklingError"),
        (b"cstreamrt_no_such_module\nThing\n.", "ModuleNotFoundError"),
    ],
)
def test_unpickling_failure_names_the_file_and_keeps_the_cause(payload: bytes, reason: str) -> None:
    with pytest.raises(
        CheckpointError, match=rf"^{SOURCE} cannot be unpickled: {reason}"
    ) as caught:
        decode(_envelope(payload), SOURCE)
    assert caught.value.__cause__ is not None


def test_json_round_trip_is_readable_text_with_the_version_first() -> None:
    metadata = {"job": "wordcount", "tasks": [{"uid": "count", "key_groups": [0, 64]}], "x": 0.5}
    data = encode_json(metadata)
    assert data.startswith(b'{\n  "format_version": 1,\n')
    assert {"format_version": 1, **metadata} == json.loads(data)
    assert metadata == decode_json(data, SOURCE)


@pytest.mark.parametrize(
    ("metadata", "where"),
    [
        ({"range": (0, 64)}, r"metadata\['range'\] is a tuple"),
        ({"tasks": [{"groups": range(4)}]}, r"metadata\['tasks'\]\[0\]\['groups'\] is a range"),
        ({"parallelism": {1: "a"}}, r"metadata\['parallelism'\] has the key 1 of type int"),
        ({"rate": float("nan")}, r"metadata\['rate'\] is nan"),
        ({"format_version": 2}, r"metadata key 'format_version' is reserved"),
    ],
)
def test_json_refuses_what_would_not_round_trip(metadata: dict[str, object], where: str) -> None:
    with pytest.raises(CheckpointError, match=where):
        encode_json(metadata)


def test_truncated_json_is_truncated() -> None:
    data = encode_json({"tasks": [{"uid": f"op-{i}"} for i in range(10)]})
    with pytest.raises(CheckpointError) as caught:
        decode_json(data[:40], SOURCE)
    assert f"{SOURCE} is truncated: the json document ends after 40 bytes" == str(caught.value)


def test_every_cut_of_a_metadata_document_is_truncated() -> None:
    data = encode_json({"job": "wörd", "tasks": [{"uid": "count", "groups": [0, 64], "x": None}]})
    for cut in range(1, len(data.rstrip())):
        with pytest.raises(CheckpointError, match=rf"^{SOURCE} is truncated"):
            decode_json(data[:cut], SOURCE)


def test_empty_json_file_is_truncated() -> None:
    with pytest.raises(CheckpointError, match=rf"^{SOURCE} is truncated: the file is empty"):
        decode_json(b"", SOURCE)


def test_broken_json_in_the_middle_is_corrupt() -> None:
    with pytest.raises(CheckpointError, match=rf"^{SOURCE} is corrupt: not valid json"):
        decode_json(b'{"format_version": 1, oops "x": 2}', SOURCE)


@pytest.mark.parametrize(
    "data",
    [
        b"[1, 2]",
        b'{"job": "x"}',
        b'{"format_version": "1"}',
        b'{"format_version": true}',
        b"\xff\xfe{}",
        MAGIC + bytes(20),
    ],
)
def test_other_documents_are_not_metadata_files(data: bytes) -> None:
    with pytest.raises(CheckpointError, match=rf"^{SOURCE} is not a streamrt checkpoint metadata"):
        decode_json(data, SOURCE)


def test_json_of_unknown_version_is_refused() -> None:
    with pytest.raises(CheckpointError) as caught:
        decode_json(b'{"format_version": 7, "job": "x"}', SOURCE)
    assert f"{SOURCE} has format version 7; this streamrt reads version 1" == str(caught.value)
