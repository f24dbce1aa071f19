"""Broadcast state: a dict per ``MapStateDescriptor``, replicated on every subtask.

Port of Flink's ``BroadcastState``/``ReadOnlyBroadcastState``. It is operator state, not keyed
state: every subtask of the operator holds a full copy, written only by broadcast elements
(which every subtask receives), so the copies stay equal. A checkpoint stores each subtask's
copy; a restore at any parallelism gives every subtask one (``state_assignment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["BroadcastState", "ReadOnlyBroadcastState"]

K = TypeVar("K")
V = TypeVar("V")


class ReadOnlyBroadcastState(Generic[K, V]):
    """The view the non-broadcast side gets: reads only."""

    __slots__ = ("_map",)

    def __init__(self, entries: dict[K, V]) -> None:
        self._map = entries

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value under ``key``, or ``default``."""
        return self._map.get(key, default)

    def contains(self, key: K) -> bool:
        """Whether ``key`` has a value."""
        return key in self._map

    def items(self) -> Iterator[tuple[K, V]]:
        """The entries (a snapshot: safe to iterate while the state changes)."""
        return iter(list(self._map.items()))

    def keys(self) -> Iterator[K]:
        """The keys."""
        return iter(list(self._map))

    def values(self) -> Iterator[V]:
        """The values."""
        return iter(list(self._map.values()))

    def is_empty(self) -> bool:
        """Whether the state has no entry."""
        return not self._map

    def __iter__(self) -> Iterator[K]:
        return self.keys()

    def __len__(self) -> int:
        return len(self._map)


class BroadcastState(ReadOnlyBroadcastState[K, V]):
    """The view the broadcast side gets: reads and writes."""

    __slots__ = ()

    def put(self, key: K, value: V) -> None:
        """Set ``key``."""
        self._map[key] = value

    def put_all(self, entries: dict[K, V]) -> None:
        """Set every entry of ``entries``."""
        self._map.update(entries)

    def remove(self, key: K) -> None:
        """Remove ``key`` (no error if absent)."""
        self._map.pop(key, None)

    def clear(self) -> None:
        """Remove every entry."""
        self._map.clear()
