"""Keyed state kept in memory, scoped to the key of the record being processed.

Port of the idea of Flink's ``HeapKeyedStateBackend``: one table per named state, each a dict
from key to value; the operator sets ``current_key`` before calling user code, so a
``ValueState`` read inside ``process_element`` sees the value of that record's key.
``state_dict()``/``load_state_dict()`` give a plain, picklable snapshot (architecture §6).

State kinds (one name has one kind per operator): ``value``, ``list``, ``map``, ``reducing``
(a value folded by a reduce function on ``add``), ``aggregating`` (an accumulator fed by an
``AggregateFunction``). States with a time-to-live are other kinds (``value+ttl``, ...; see
``ttl_state``): their tables hold ``(value, last_access_ms)`` pairs, so a state written with
TTL cannot be read without it, as in Flink.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from streamrt.errors import GraphError
from streamrt.runtime.copying import copy_value

__all__ = [
    "TTL_SUFFIX",
    "AggregatingState",
    "Aggregator",
    "KeyedStateBackend",
    "ListState",
    "MapState",
    "ReducingState",
    "ValueState",
]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
IN = TypeVar("IN")
ACC = TypeVar("ACC")
OUT = TypeVar("OUT")
IN_contra = TypeVar("IN_contra", contravariant=True)
OUT_co = TypeVar("OUT_co", covariant=True)

#: marks the kind of a state whose values carry their last-access timestamp
TTL_SUFFIX = "+ttl"

_ABSENT: Any = object()
_NO_MAP: dict[Any, Any] = {}  # read-only stand-in for a key without a map

#: rewrites one table for a snapshot (a TTL state leaves its expired entries out)
SnapshotFilter = Callable[[dict[Any, Any]], dict[Any, Any]]


class KeyedStateBackend:
    """Holds every keyed state of one operator subtask."""

    __slots__ = ("_filters", "_kinds", "_tables", "current_key")

    def __init__(self) -> None:
        self._tables: dict[str, dict[Any, Any]] = {}
        self._kinds: dict[str, str] = {}
        self._filters: dict[str, SnapshotFilter] = {}
        self.current_key: Any = None

    def table(self, name: str, kind: str) -> dict[Any, Any]:
        """The key -> value table of state ``name``; one name has one kind.

        Raises:
            GraphError: ``name`` already is a state of another kind (also one restored from a
                checkpoint, and a state with TTL versus one without).
        """
        known = self._kinds.setdefault(name, kind)
        if known != kind:
            msg = (
                f"state {name!r} is a {_describe(known)} state; it cannot also be a "
                f"{_describe(kind)} state"
            )
            raise GraphError(msg)
        return self._tables.setdefault(name, {})

    def set_snapshot_filter(self, name: str, snapshot_filter: SnapshotFilter) -> None:
        """Snapshots of state ``name`` hold ``snapshot_filter(table)`` (TTL cleanup)."""
        self._filters[name] = snapshot_filter

    def keys_of(self, name: str) -> list[Any]:
        """The keys that have a value in state ``name`` (none if it was never declared)."""
        return list(self._tables.get(name, ()))

    def keys(self) -> set[Any]:
        """Every key that has any state."""
        return {k for t in self._tables.values() for k in t}

    def state_dict(self) -> dict[str, Any]:
        """A snapshot: ``{"kinds": {name: kind}, "tables": {name: {key: value}}}``.

        Independent of the live state: each key's list or map is copied, and reducing and
        aggregating values are deep-copied (their functions may change them in place), so
        later calls on the live state do not change a snapshot already taken.
        """
        return {
            "kinds": dict(self._kinds),
            "tables": {
                n: self._copy_table(n, self._filtered(n, t)) for n, t in self._tables.items()
            },
        }

    def snapshot(self) -> dict[str, Any]:
        """The live state in ``state_dict()``'s form, *without* copying it.

        For a checkpoint that encodes it at once, before anything else runs (the copy
        ``state_dict()`` makes would be thrown away right after). Only the tables of TTL states
        that clean up in snapshots are rebuilt, without their expired entries.
        """
        if not self._filters:
            return {"kinds": dict(self._kinds), "tables": self._tables}
        tables = {n: self._filtered(n, t) for n, t in self._tables.items()}
        return {"kinds": dict(self._kinds), "tables": tables}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace all state with a snapshot from ``state_dict()`` (which stays unchanged)."""
        self._kinds = dict(state["kinds"])
        self._tables = {n: self._copy_table(n, t) for n, t in state["tables"].items()}

    def _filtered(self, name: str, table: dict[Any, Any]) -> dict[Any, Any]:
        snapshot_filter = self._filters.get(name)
        return table if snapshot_filter is None else snapshot_filter(table)

    def _copy_table(self, name: str, table: dict[Any, Any]) -> dict[Any, Any]:
        kind = self._kinds.get(name, "value").removesuffix(TTL_SUFFIX)
        if kind == "list":
            return {k: list(v) for k, v in table.items()}
        if kind == "map":
            return {k: dict(v) for k, v in table.items()}
        if kind in ("reducing", "aggregating"):
            return {k: copy_value(v) for k, v in table.items()}
        return dict(table)


def _describe(kind: str) -> str:
    base = kind.removesuffix(TTL_SUFFIX)
    return f"{base} (with TTL)" if base != kind else kind


class ValueState(Generic[T]):
    """One value per key (Flink's ``ValueState``)."""

    __slots__ = ("_backend", "_default", "_table")

    def __init__(self, backend: KeyedStateBackend, name: str, default: T | None = None) -> None:
        self._backend = backend
        self._table = backend.table(name, "value")
        self._default = default

    def value(self) -> T | None:
        """The current key's value, or the default when it has none."""
        return self._table.get(self._backend.current_key, self._default)

    def update(self, value: T) -> None:
        """Set the current key's value."""
        self._table[self._backend.current_key] = value

    def clear(self) -> None:
        """Remove the current key's value."""
        self._table.pop(self._backend.current_key, None)


class ListState(Generic[T]):
    """A list per key (Flink's ``ListState``)."""

    __slots__ = ("_backend", "_table")

    def __init__(self, backend: KeyedStateBackend, name: str) -> None:
        self._backend = backend
        self._table = backend.table(name, "list")

    def get(self) -> list[T]:
        """The current key's list (a copy; empty when it has none)."""
        return list(self._table.get(self._backend.current_key, ()))

    def __iter__(self) -> Iterator[T]:
        return iter(self.get())

    def add(self, value: T) -> None:
        """Append to the current key's list."""
        self._table.setdefault(self._backend.current_key, []).append(value)

    def add_all(self, values: Iterable[T]) -> None:
        """Append every value to the current key's list."""
        self._table.setdefault(self._backend.current_key, []).extend(values)

    def update(self, values: Iterable[T]) -> None:
        """Replace the current key's list."""
        self._table[self._backend.current_key] = list(values)

    def clear(self) -> None:
        """Remove the current key's list."""
        self._table.pop(self._backend.current_key, None)


class MapState(Generic[K, V]):
    """A dict per key (Flink's ``MapState``); also usable as ``state[k]``, ``k in state``."""

    __slots__ = ("_backend", "_table")

    def __init__(self, backend: KeyedStateBackend, name: str) -> None:
        self._backend = backend
        self._table = backend.table(name, "map")

    def _map(self) -> dict[K, V]:
        return self._table.setdefault(self._backend.current_key, {})  # type: ignore[no-any-return]

    def _read(self) -> dict[K, V]:  # reads do not create an empty map for the key
        return self._table.get(self._backend.current_key, _NO_MAP)  # type: ignore[no-any-return]

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value under ``key`` in the current key's map."""
        return self._read().get(key, default)

    def put(self, key: K, value: V) -> None:
        """Set ``key`` in the current key's map."""
        self._map()[key] = value

    def put_all(self, entries: dict[K, V]) -> None:
        """Set every entry of ``entries`` in the current key's map."""
        self._map().update(entries)

    def remove(self, key: K) -> None:
        """Remove ``key`` from the current key's map (no error if absent)."""
        entries = self._read()
        entries.pop(key, None)
        if not entries:
            self._table.pop(self._backend.current_key, None)

    def contains(self, key: K) -> bool:
        """Whether the current key's map has ``key``."""
        return key in self._read()

    def items(self) -> Iterator[tuple[K, V]]:
        """The current key's entries (a snapshot: changing the map while iterating is fine)."""
        return iter(list(self._read().items()))

    def keys(self) -> Iterator[K]:
        """The current key's map keys (a snapshot)."""
        return iter(list(self._read()))

    def values(self) -> Iterator[V]:
        """The current key's map values (a snapshot)."""
        return iter(list(self._read().values()))

    def is_empty(self) -> bool:
        """Whether the current key's map is empty."""
        return not self._read()

    def clear(self) -> None:
        """Remove the current key's whole map."""
        self._table.pop(self._backend.current_key, None)

    def __getitem__(self, key: K) -> V:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def __setitem__(self, key: K, value: V) -> None:
        self.put(key, value)

    def __delitem__(self, key: K) -> None:
        self.remove(key)

    def __contains__(self, key: object) -> bool:
        return self.contains(key)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[K]:
        return self.keys()


class ReducingState(Generic[T]):
    """One value per key, folded with ``reduce_function`` on every ``add`` (Flink's)."""

    __slots__ = ("_backend", "_reduce", "_table")

    def __init__(
        self, backend: KeyedStateBackend, name: str, reduce_function: Callable[[T, T], T]
    ) -> None:
        self._backend = backend
        self._table = backend.table(name, "reducing")
        self._reduce = reduce_function

    def get(self) -> T | None:
        """The current key's reduced value, ``None`` when nothing was added."""
        return self._table.get(self._backend.current_key)

    def add(self, value: T) -> None:
        """Fold ``value`` into the current key's value (``reduce(stored, value)``)."""
        key = self._backend.current_key
        stored = self._table.get(key, _ABSENT)
        self._table[key] = value if stored is _ABSENT else self._reduce(stored, value)

    def clear(self) -> None:
        """Remove the current key's value."""
        self._table.pop(self._backend.current_key, None)


class Aggregator(Protocol[IN_contra, ACC, OUT_co]):
    """What an aggregating state needs of an ``AggregateFunction``."""

    def create_accumulator(self) -> ACC:
        """A new, empty accumulator."""
        ...

    def add(self, value: IN_contra, accumulator: ACC) -> ACC:
        """Add ``value``; return the updated accumulator."""
        ...

    def get_result(self, accumulator: ACC) -> OUT_co:
        """The aggregate of what ``accumulator`` holds."""
        ...


class AggregatingState(Generic[IN, OUT]):
    """An accumulator per key, fed by an ``AggregateFunction`` on every ``add`` (Flink's)."""

    __slots__ = ("_backend", "_function", "_table")

    def __init__(
        self, backend: KeyedStateBackend, name: str, function: Aggregator[IN, Any, OUT]
    ) -> None:
        self._backend = backend
        self._table = backend.table(name, "aggregating")
        self._function = function

    def get(self) -> OUT | None:
        """``get_result`` of the current key's accumulator, ``None`` when nothing was added."""
        accumulator = self._table.get(self._backend.current_key, _ABSENT)
        return None if accumulator is _ABSENT else self._function.get_result(accumulator)

    def add(self, value: IN) -> None:
        """Add ``value`` to the current key's accumulator (created on the first ``add``)."""
        key = self._backend.current_key
        accumulator = self._table.get(key, _ABSENT)
        if accumulator is _ABSENT:
            accumulator = self._function.create_accumulator()
        self._table[key] = self._function.add(value, accumulator)

    def clear(self) -> None:
        """Remove the current key's accumulator."""
        self._table.pop(self._backend.current_key, None)
