"""Keyed rolling aggregations: ``sum``, ``min``, ``max``, ``min_by``, ``max_by``.

Port of Flink's ``StreamGroupedReduceOperator`` running a ``SumAggregator`` or a
``ComparableAggregator``. Per key, the first record is stored and emitted as it is; each later
record is combined with the stored result, which is stored and emitted:

* ``sum``/``min``/``max``: the stored result with ``field`` replaced by the sum, the minimum,
  the maximum; every other field stays that of the key's first record (as in Flink);
* ``min_by``/``max_by``: the whole record with the smallest/largest ``field``; on ties the one
  seen first stays (Flink's default, ``first=True``).

Results are new objects: neither the input record nor a stored result is ever changed, so
nothing emitted earlier changes, whether object reuse is on or off.

``field`` is a position (tuples, lists, ``Row``; position 0 of a number is the number itself) or
a name (a dict key, a named ``Row`` field, an attribute of an object, dataclass or namedtuple).
How to read and replace the field is decided once per record type and kept while records of
that type follow (one identity check per record). A record without the field raises a
``RecordError`` naming the field and the record's type, which the operator's error policy
handles.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import numbers
from collections.abc import Callable, Mapping
from operator import attrgetter, itemgetter
from typing import Any, TypeVar

from operators.base import AbstractUdfStreamOperator
from streamrt.errors import GraphError, RecordError
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.outputs.output import Output
from streamrt.typeinfo import Row

__all__ = ["Aggregation", "KeyedAggregationOperator", "check_field"]

T = TypeVar("T")
_ABSENT: Any = object()


class Aggregation(enum.Enum):
    """The rolling aggregations of a ``KeyedStream``."""

    SUM = "sum"
    MIN = "min"
    MAX = "max"
    MIN_BY = "min_by"
    MAX_BY = "max_by"


def check_field(aggregation: Aggregation, field: object) -> int | str:
    """``field`` if it can name a field: a position ``>= 0`` or a non-empty name.

    Raises:
        GraphError: it cannot.
    """
    if isinstance(field, int) and not isinstance(field, bool) and field >= 0:
        return field
    if isinstance(field, str) and field:
        return field
    msg = (
        f"{aggregation.value}() needs a field: a position >= 0 (tuples, lists, Rows) or a name "
        f"(dict keys, attributes); got {field!r}"
    )
    raise GraphError(msg)


class _Access:
    """How to read and replace one field in records of one type."""

    __slots__ = ("get", "replace", "type")

    def __init__(
        self, record_type: type, get: Callable[[Any], Any], replace: Callable[[Any, Any], Any]
    ) -> None:
        self.type = record_type
        self.get = get
        self.replace = replace


def _replace_item(field: int | str) -> Callable[[Any, Any], Any]:
    def replace(record: Any, value: Any) -> Any:
        result = copy.copy(record)  # lists, dicts, Rows: a new container, fields shared
        result[field] = value
        return result

    return replace


def _replace_position_in_tuple(field: int) -> Callable[[Any, Any], Any]:
    def replace(record: Any, value: Any) -> Any:
        fields = list(record)
        fields[field] = value
        return tuple(fields)

    return replace


def _replace_attribute(field: str) -> Callable[[Any, Any], Any]:
    def replace(record: Any, value: Any) -> Any:
        result = copy.copy(record)
        setattr(result, field, value)
        return result

    return replace


def _access_for(record_type: type, field: int | str) -> _Access | None:
    """The access to ``field`` in records of ``record_type``; ``None`` when they cannot have it."""
    is_namedtuple = issubclass(record_type, tuple) and hasattr(record_type, "_fields")
    if isinstance(field, int):
        if is_namedtuple:
            names: tuple[str, ...] = record_type._fields  # type: ignore[attr-defined]
            if field >= len(names):
                return None
            name = names[field]
            return _Access(record_type, itemgetter(field), lambda r, v: r._replace(**{name: v}))
        if record_type is tuple:
            return _Access(record_type, itemgetter(field), _replace_position_in_tuple(field))
        if issubclass(record_type, (list, Row, Mapping)):
            return _Access(record_type, itemgetter(field), _replace_item(field))
        if issubclass(record_type, numbers.Number) and field == 0:  # Flink: position 0 of an atom
            return _Access(record_type, lambda r: r, lambda r, v: v)
        return None
    if issubclass(record_type, (Mapping, Row)):
        return _Access(record_type, itemgetter(field), _replace_item(field))
    if is_namedtuple:
        return _Access(record_type, attrgetter(field), lambda r, v: r._replace(**{field: v}))
    if dataclasses.is_dataclass(record_type):
        init_fields = {f.name for f in dataclasses.fields(record_type) if f.init}
        if field in init_fields:
            return _Access(
                record_type, attrgetter(field), lambda r, v: dataclasses.replace(r, **{field: v})
            )
    return _Access(record_type, attrgetter(field), _replace_attribute(field))


#: combines the stored result with a new record, each read through its own access
Combine = Callable[[_Access, _Access, Any, Any], Any]


def _sum(sa: _Access, va: _Access, stored: Any, value: Any) -> Any:
    return sa.replace(stored, sa.get(stored) + va.get(value))


def _min(sa: _Access, va: _Access, stored: Any, value: Any) -> Any:
    new = va.get(value)
    return sa.replace(stored, new) if new < sa.get(stored) else stored


def _max(sa: _Access, va: _Access, stored: Any, value: Any) -> Any:
    new = va.get(value)
    return sa.replace(stored, new) if new > sa.get(stored) else stored


def _min_by(sa: _Access, va: _Access, stored: Any, value: Any) -> Any:
    return value if va.get(value) < sa.get(stored) else stored


def _max_by(sa: _Access, va: _Access, stored: Any, value: Any) -> Any:
    return value if va.get(value) > sa.get(stored) else stored


_COMBINE: dict[Aggregation, Combine] = {
    Aggregation.SUM: _sum,
    Aggregation.MIN: _min,
    Aggregation.MAX: _max,
    Aggregation.MIN_BY: _min_by,
    Aggregation.MAX_BY: _max_by,
}


class KeyedAggregationOperator(AbstractUdfStreamOperator[T, T, Aggregation]):
    """A rolling ``sum``/``min``/``max``/``min_by``/``max_by`` of ``field`` per key."""

    def __init__(self, aggregation: Aggregation, field: int | str) -> None:
        super().__init__(aggregation)
        self._aggregation = aggregation
        self._field = check_field(aggregation, field)
        self._access = _Access(type(None), lambda r: r, lambda r, v: v)  # replaced on first use
        self._combine = _COMBINE[aggregation]

    def setup(self, context: OperatorContext, output: Output[T]) -> None:
        """Bind the key selector and output once."""
        super().setup(context, output)
        assert context.key_selector is not None, "aggregations run on a keyed stream"
        self._key_of = context.key_selector
        self._collect = output.collect

    async def open(self) -> None:
        """Bind the state table (after a restore has replaced it)."""
        await super().open()
        assert self.state_backend is not None
        self._table = self.state_backend.table("aggregation", "value")

    def process_element(self, record: StreamRecord[T]) -> None:
        """Combine with the key's stored result, store, and emit the new result."""
        value = record.value
        key = self._key_of(value)
        table = self._table
        stored = table.get(key, _ABSENT)
        try:
            access = self._access
            if type(value) is not access.type:
                access = self._access = self._resolve(value)
            if stored is _ABSENT:
                access.get(value)  # the first record must have the field too
            else:
                stored_access = access if type(stored) is access.type else self._resolve(stored)
                value = self._combine(stored_access, access, stored, value)
        except Exception as exc:  # the stored result stays as it was
            if isinstance(exc, (LookupError, AttributeError)):
                exc = self._missing_in(stored, record.value) or exc
            self.on_user_error(exc, record)
            return
        table[key] = value
        record.value = value
        self._collect(record)

    def _resolve(self, value: Any) -> _Access:
        found = _access_for(type(value), self._field)
        if found is None:
            raise self._missing(value)
        return found

    def _missing_in(self, stored: Any, value: Any) -> RecordError | None:
        """The error for whichever of the two lacks the field; ``None`` if both have it."""
        for candidate in (value, stored):
            if candidate is _ABSENT:
                continue
            access = _access_for(type(candidate), self._field)
            try:
                if access is not None:
                    access.get(candidate)
                    continue
            except (LookupError, AttributeError):
                pass
            return self._missing(candidate)
        return None

    def _missing(self, value: Any) -> RecordError:
        field = self._field
        kind = type(value).__qualname__
        if isinstance(field, int):
            what = f"position {field}" + (
                f" (it has {len(value)})" if isinstance(value, (tuple, list, Row)) else ""
            )
        elif isinstance(value, (Mapping, Row)):
            what = f"key {field!r}"
        else:
            what = f"attribute {field!r}"
        msg = (
            f"{self._aggregation.value}({field!r}) in operator {self.context.name!r}: "
            f"a {kind} record has no {what}: {value!r}"
        )
        return RecordError(msg)
