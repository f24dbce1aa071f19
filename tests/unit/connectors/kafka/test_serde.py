"""The JSON serde: orjson's speed, ``json.loads``'s values and errors, no value newly refused."""

from __future__ import annotations

import datetime
import enum
import json
import math
import uuid
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.connectors.kafka import json_deserializer, json_serializer

# -- json_deserializer ---------------------------------------------------------------------------

VALID = [
    b'{"order_id": 1, "user": "u-1", "amount": 12.5, "tags": ["a", "b"], "ok": true, "x": null}',
    b"[]",
    b"{}",
    b'"text"',
    b"0",
    b"-0",
    b"-0.0",
    b"1E2",
    b"0.1",
    b"1.7976931348623157e308",
    b"5e-324",
    b"9223372036854775807",  # the largest int64
    b"-9223372036854775808",  # the smallest
    b"18446744073709551615",  # the largest uint64: orjson's last exact integer
    b' \t\r\n{"a" : [1 , 2]} \n',
    b'{"a": 1, "a": 2}',  # the last duplicate wins, as in json.loads
    '{"city": "Kraków", "price": "12 €", "emoji": "😀"}'.encode(),
    b'"\\u00e9\\ud83d\\ude00\\n\\"\\\\"',  # escapes, including a surrogate pair
]

#: valid for json.loads, but orjson rejects them or reads them differently: the stdlib reads them
STDLIB_ONLY = [
    b"18446744073709551616",  # 2**64: orjson would return a float
    b"-9223372036854775809",  # -2**63 - 1
    b'{"id": 123456789012345678901234567890, "n": [1, -99999999999999999999]}',
    b"123456789012345678901234.5",  # a float with a long mantissa (same value either way)
    b"[NaN, Infinity, -Infinity]",
    b"1e400",  # overflows to inf
    b'\xef\xbb\xbf{"bom": 1}',  # UTF-8 byte-order mark
    '{"utf16": 1}'.encode("utf-16"),
    '{"utf32": 1}'.encode("utf-32"),
    b'"\\ud800"',  # a lone surrogate escape
]


def same(expected: Any, actual: Any) -> bool:
    """Equal, with NaN equal to NaN and types compared (1 and 1.0 differ)."""
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(expected, list):
        return (
            type(actual) is list
            and len(expected) == len(actual)
            and all(same(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, dict):
        return (
            type(actual) is dict
            and list(expected) == list(actual)
            and all(same(v, actual[k]) for k, v in expected.items())
        )
    return type(expected) is type(actual) and bool(expected == actual)


@pytest.mark.parametrize("document", VALID + STDLIB_ONLY)
def test_reads_what_json_loads_reads_with_the_same_values(document: bytes) -> None:
    assert same(json.loads(document), json_deserializer(document))


@pytest.mark.parametrize("document", VALID)
def test_reads_str_as_well(document: bytes) -> None:
    text = document.decode()
    assert same(json.loads(text), json_deserializer(text))


def test_big_integers_stay_exact_integers() -> None:
    value = json_deserializer(b'{"a": 18446744073709551616, "b": [-9223372036854775809]}')
    assert value == {"a": 2**64, "b": [-(2**63) - 1]}
    assert type(value["a"]) is int


@pytest.mark.parametrize("offset", range(10))
def test_a_big_integer_is_found_wherever_it_starts(offset: int) -> None:
    for number in (-(2**63) - 1, 2**64, 2**63 - 1, 10**17 + 3):
        document = b" " * offset + b'{"n": [%d]}' % number
        assert json.loads(document) == json_deserializer(document)
        assert type(json_deserializer(document)["n"][0]) is int


def test_nineteen_digits_inside_a_string_only_cost_the_slower_parse() -> None:
    assert json_deserializer(b'{"id": "1234567890123456789012"}') == {
        "id": "1234567890123456789012"
    }


def test_str_with_a_lone_surrogate_goes_to_the_stdlib() -> None:
    assert json_deserializer('"\ud800"') == "\ud800"


def test_bytearray_is_read_as_json_loads_reads_it() -> None:
    assert json_deserializer(bytearray(b'{"a": 1}')) == {"a": 1}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not json", "Expecting value: line 1 column 1 (char 0)"),
        (b"", "Expecting value: line 1 column 1 (char 0)"),
        (b'{"a": 1,}', "Expecting property name enclosed in double quotes: line 1 column 9"),
        (b"[1, 2", "Expecting ',' delimiter: line 1 column 6"),
        (b'{"a": 1} {"b": 2}', "Extra data: line 1 column 10"),
        (b'"a\x01b"', "Invalid control character at: line 1 column 3"),
        (b"01", "Extra data: line 1 column 2"),
    ],
)
def test_a_malformed_document_raises_the_stdlib_error_naming_the_problem(
    document: bytes, message: str
) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json_deserializer(document)
    assert type(caught.value) is json.JSONDecodeError  # the stdlib's, as before orjson
    assert str(caught.value).startswith(message)
    assert not isinstance(caught.value.__context__, orjson.JSONDecodeError)  # not chained


def test_a_document_nested_past_the_recursion_limit_raises_recursion_error_as_before() -> None:
    # orjson stops at 1024 levels; the stdlib, at the interpreter's recursion limit
    with pytest.raises(RecursionError):
        json_deserializer(b"[" * 100_000 + b"]" * 100_000)


def test_bytes_that_are_no_text_raise_unicode_decode_error() -> None:
    with pytest.raises(UnicodeDecodeError):
        json_deserializer(b'"\xc3"')


def test_a_value_that_is_no_document_raises_type_error() -> None:
    with pytest.raises(TypeError, match="the JSON object must be str, bytes or bytearray"):
        json_deserializer(12)  # type: ignore[arg-type]


# -- json_serializer -----------------------------------------------------------------------------


@dataclass
class Order:
    order_id: int
    at: datetime.datetime


class Color(enum.Enum):
    RED = "red"


Point = namedtuple("Point", "x y")


class Amount(float):
    pass


def test_writes_compact_utf8_that_json_loads_reads_back_equal() -> None:
    value = {"order_id": 1, "amount": 12.5, "tags": ["a"], "ok": True, "none": None}
    data = json_serializer(value)
    assert data == b'{"order_id":1,"amount":12.5,"tags":["a"],"ok":true,"none":null}'
    assert value == json.loads(data)


def test_non_ascii_is_written_as_utf8_not_escaped() -> None:
    data = json_serializer({"city": "Kraków", "emoji": "😀"})
    assert '{"city":"Kraków","emoji":"😀"}'.encode() == data
    assert json.loads(json.dumps({"city": "Kraków", "emoji": "😀"})) == json.loads(data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {1: "a", 2.5: "b", False: "c", None: "d"},
            {"1": "a", "2.5": "b", "false": "c", "null": "d"},
        ),
        ((1, (2, 3)), [1, [2, 3]]),
        (Point(1, 2), [1, 2]),  # orjson refuses tuple subclasses: the stdlib writes them
        ([2**64, -(2**63) - 1, 10**30], [2**64, -(2**63) - 1, 10**30]),  # beyond 64 bits
        (Amount(1.5), 1.5),  # float subclasses likewise
        ("\ud800", "\ud800"),  # a lone surrogate: orjson refuses, the stdlib escapes it
        ([[[[[[]]]]]] * 2, [[[[[[]]]]]] * 2),
    ],
)
def test_what_json_dumps_wrote_still_serializes_and_reads_back_equal(
    value: Any, expected: Any
) -> None:
    assert expected == json.loads(json_serializer(value))
    assert json.loads(json.dumps(value)) == json.loads(json_serializer(value))


def test_nesting_past_orjson_limit_is_written_by_the_stdlib() -> None:
    deep: list[Any] = []
    for _ in range(300):
        deep = [deep]
    assert json.loads(json.dumps(deep)) == json.loads(json_serializer(deep))


def test_nan_and_infinities_become_null() -> None:
    # the stdlib wrote NaN/Infinity tokens, which are not JSON and which most parsers reject
    assert (
        json_serializer({"a": math.nan, "b": math.inf, "c": -math.inf})
        == b'{"a":null,"b":null,"c":null}'
    )
    assert json_serializer({math.nan: 1}) == b'{"null":1}'  # the stdlib wrote {"NaN":1}


def test_dataclasses_datetimes_uuids_and_enums_serialize() -> None:
    # json.dumps raised TypeError for each of these; orjson writes them natively
    at = datetime.datetime(2026, 12, 1, 13, 45, 30, tzinfo=datetime.UTC)
    value = {
        "order": Order(7, at),
        "day": datetime.date(2026, 12, 1),
        "id": uuid.UUID(int=1),
        "color": Color.RED,
    }
    assert json.loads(json_serializer(value)) == {
        "order": {"order_id": 7, "at": "2026-12-01T13:45:30+00:00"},
        "day": "2026-12-01",
        "id": "00000000-0000-0000-0000-000000000001",
        "color": "red",
    }
    assert json_serializer({datetime.date(2026, 12, 1): 1}) == b'{"2026-12-01":1}'


def test_what_neither_writes_raises_the_stdlib_error() -> None:
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        json_serializer({"a": {1, 2}})
    with pytest.raises(TypeError, match="keys must be str, int, float, bool or None, not tuple"):
        json_serializer({(1, 2): "a"})
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference detected"):
        json_serializer(loop)


# -- both, over generated values -----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_generated_documents_read_and_write_as_with_the_stdlib(value: Any) -> None:
    for document in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert same(json.loads(document), json_deserializer(document.encode()))
        assert same(json.loads(document), json_deserializer(document))
    assert same(json.loads(json.dumps(value)), json.loads(json_serializer(value)))
