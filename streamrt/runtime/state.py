"""Keyed state kept in memory, scoped to the key of the record being processed.

Port of the idea of Flink's ``HeapKeyedStateBackend``: one table per named state, each a dict
from key to value; the operator sets ``current_key`` before calling user code, so a
``ValueState`` read inside ``process_element`` sees the value of that record's key.
``state_dict()``/``load_state_dict()`` give a plain, picklable snapshot (architecture §6).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from streamrt.errors import GraphError

__all__ = ["KeyedStateBackend", "ListState", "MapState", "ValueState"]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

_ABSENT: Any = object()


class KeyedStateBackend:
    """Holds every keyed state of one operator subtask."""

    __slots__ = ("_kinds", "_tables", "current_key")

    def __init__(self) -> None:
        self._tables: dict[str, dict[Any, Any]] = {}
        self._kinds: dict[str, str] = {}
        self.current_key: Any = None

    def table(self, name: str, kind: str) -> dict[Any, Any]:
        """The key -> value table of state ``name``; one name has one kind."""
        known = self._kinds.setdefault(name, kind)
        if known != kind:
            msg = f"state {name!r} is a {known} state; it cannot also be a {kind} state"
            raise GraphError(msg)
        return self._tables.setdefault(name, {})

    def keys(self) -> set[Any]:
        """Every key that has any state."""
        return {k for t in self._tables.values() for k in t}

    def state_dict(self) -> dict[str, Any]:
        """A snapshot: ``{"kinds": {name: kind}, "tables": {name: {key: value}}}``.

        Independent of the live state: each key's list or map is copied, so later ``add`` or
        ``put`` calls do not change a snapshot already taken.
        """
        return {
            "kinds": dict(self._kinds),
            "tables": {n: self._copy_table(n, t) for n, t in self._tables.items()},
        }

    def snapshot(self) -> dict[str, Any]:
        """The live state in ``state_dict()``'s form, *without* copying it.

        For a checkpoint that encodes it at once, before anything else runs (the copy
        ``state_dict()`` makes would be thrown away right after).
        """
        return {"kinds": dict(self._kinds), "tables": self._tables}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace all state with a snapshot from ``state_dict()`` (which stays unchanged)."""
        self._kinds = dict(state["kinds"])
        self._tables = {n: self._copy_table(n, t) for n, t in state["tables"].items()}

    def _copy_table(self, name: str, table: dict[Any, Any]) -> dict[Any, Any]:
        kind = self._kinds.get(name)
        if kind == "list":
            return {k: list(v) for k, v in table.items()}
        if kind == "map":
            return {k: dict(v) for k, v in table.items()}
        return dict(table)


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

    def add(self, value: T) -> None:
        """Append to the current key's list."""
        self._table.setdefault(self._backend.current_key, []).append(value)

    def update(self, values: list[T]) -> None:
        """Replace the current key's list."""
        self._table[self._backend.current_key] = list(values)

    def clear(self) -> None:
        """Remove the current key's list."""
        self._table.pop(self._backend.current_key, None)


class MapState(Generic[K, V]):
    """A dict per key (Flink's ``MapState``)."""

    __slots__ = ("_backend", "_table")

    def __init__(self, backend: KeyedStateBackend, name: str) -> None:
        self._backend = backend
        self._table = backend.table(name, "map")

    def _map(self) -> dict[K, V]:
        return self._table.setdefault(self._backend.current_key, {})  # type: ignore[no-any-return]

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value under ``key`` in the current key's map."""
        return self._map().get(key, default)

    def put(self, key: K, value: V) -> None:
        """Set ``key`` in the current key's map."""
        self._map()[key] = value

    def remove(self, key: K) -> None:
        """Remove ``key`` from the current key's map (no error if absent)."""
        self._map().pop(key, None)

    def contains(self, key: K) -> bool:
        """Whether the current key's map has ``key``."""
        return key in self._map()

    def items(self) -> Iterator[tuple[K, V]]:
        """The current key's entries."""
        return iter(list(self._map().items()))

    def is_empty(self) -> bool:
        """Whether the current key's map is empty."""
        return not self._table.get(self._backend.current_key)

    def clear(self) -> None:
        """Remove the current key's whole map."""
        self._table.pop(self._backend.current_key, None)
