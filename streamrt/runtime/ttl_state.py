"""Keyed state with a time-to-live: Flink's ``TtlStateFactory`` and ``Ttl*State`` decorators.

Each value (each list element, each map entry) is stored with the processing time it was last
written, or also last read with ``update_on_read``: ``(value, last_access_ms)``. A value is
expired once ``now >= last_access_ms + ttl_ms``. Expired values are removed when they are
accessed; ``return_expired`` hands one back that one last time (Flink's
``ReturnExpiredIfNotCleanedUp``), otherwise it reads as absent (``NeverReturnExpired``). With
``cleanup_in_snapshot`` a snapshot leaves expired values out (Flink's ``cleanupFullSnapshot``).

Whether a state has a TTL is decided when it is created: states without one are the plain
classes of ``state``, which never look at a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from streamrt.runtime.state import (
    TTL_SUFFIX,
    AggregatingState,
    Aggregator,
    KeyedStateBackend,
    ListState,
    MapState,
    ReducingState,
    ValueState,
)

__all__ = [
    "TtlAggregatingState",
    "TtlListState",
    "TtlMapState",
    "TtlReducingState",
    "TtlSettings",
    "TtlValueState",
]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
IN = TypeVar("IN")
OUT = TypeVar("OUT")

#: processing time in epoch milliseconds
Clock = Callable[[], int]

_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class TtlSettings:
    """A TTL as the runtime applies it (``StateTtlConfig`` builds one).

    Attributes:
        ttl_ms: how long a value lives after its last access, in milliseconds.
        update_on_read: reads refresh the timestamp too (``OnReadAndWrite``).
        return_expired: an expired value not yet removed is returned (and removed).
        cleanup_in_snapshot: snapshots leave expired values out.
    """

    ttl_ms: int
    update_on_read: bool = False
    return_expired: bool = False
    cleanup_in_snapshot: bool = False


class _Ttl:
    """What every TTL state adds to its plain class: the clock and the settings.

    A mixin without slots of its own, so each ``Ttl*State`` subclasses its plain state class
    (``isinstance(state, ValueState)`` holds, and the plain ``clear`` serves both). It has no
    ``__slots__`` (two slotted bases would conflict), so TTL states carry a ``__dict__``: a
    few per operator, never one per key.
    """

    kind = "value"
    _backend: KeyedStateBackend
    _table: dict[Any, Any]
    _ttl: int
    _on_read: bool
    _return_expired: bool
    _now: Clock

    def __init__(
        self, backend: KeyedStateBackend, name: str, settings: TtlSettings, clock: Clock
    ) -> None:
        # replaces the plain state's __init__: the table has the TTL kind, values carry times
        self._backend = backend
        self._table = backend.table(name, self.kind + TTL_SUFFIX)
        self._ttl = settings.ttl_ms
        self._on_read = settings.update_on_read
        self._return_expired = settings.return_expired
        self._now = clock
        if settings.cleanup_in_snapshot:
            backend.set_snapshot_filter(name, self._unexpired_table)

    def _unexpired_table(self, table: dict[Any, Any]) -> dict[Any, Any]:
        """``table`` without expired values: one (value, ts) pair per key."""
        oldest = self._now() - self._ttl  # a timestamp at or before this is expired
        return {k: entry for k, entry in table.items() if entry[1] > oldest}

    def _read_single(self) -> Any:
        """The current key's value for a single-value state, with the TTL rules applied."""
        key = self._backend.current_key
        entry = self._table.get(key)
        if entry is None:
            return _ABSENT
        value, ts = entry
        now = self._now()
        if now - ts >= self._ttl:
            del self._table[key]
            return value if self._return_expired else _ABSENT
        if self._on_read:
            self._table[key] = (value, now)
        return value

    def _unexpired_single(self) -> Any:
        """The stored value when it has not expired (writes ignore expired values)."""
        entry = self._table.get(self._backend.current_key)
        if entry is None or self._now() - entry[1] >= self._ttl:
            return _ABSENT
        return entry[0]


_TTL_SLOTS = ("_now", "_on_read", "_return_expired", "_ttl")


class TtlValueState(_Ttl, ValueState[T]):
    """``ValueState`` with a TTL."""

    __slots__ = _TTL_SLOTS

    def __init__(
        self, backend: KeyedStateBackend, name: str, settings: TtlSettings, clock: Clock
    ) -> None:
        super().__init__(backend, name, settings, clock)
        self._default = None

    def value(self) -> T | None:
        """The current key's value; ``None`` when it has none or it expired."""
        value = self._read_single()
        return None if value is _ABSENT else value

    def update(self, value: T) -> None:
        """Set the current key's value (and its timestamp)."""
        self._table[self._backend.current_key] = (value, self._now())


class TtlReducingState(_Ttl, ReducingState[T]):
    """``ReducingState`` with a TTL; an expired value is not folded into."""

    __slots__ = _TTL_SLOTS

    kind = "reducing"

    def __init__(
        self,
        backend: KeyedStateBackend,
        name: str,
        settings: TtlSettings,
        clock: Clock,
        reduce_function: Callable[[T, T], T],
    ) -> None:
        super().__init__(backend, name, settings, clock)
        self._reduce = reduce_function

    def get(self) -> T | None:
        """The current key's reduced value; ``None`` when nothing was added or it expired."""
        value = self._read_single()
        return None if value is _ABSENT else value

    def add(self, value: T) -> None:
        """Fold ``value`` into the current key's (unexpired) value."""
        stored = self._unexpired_single()
        reduced = value if stored is _ABSENT else self._reduce(stored, value)
        self._table[self._backend.current_key] = (reduced, self._now())


class TtlAggregatingState(_Ttl, AggregatingState[IN, OUT]):
    """``AggregatingState`` with a TTL; an expired accumulator starts over."""

    __slots__ = _TTL_SLOTS

    kind = "aggregating"

    def __init__(
        self,
        backend: KeyedStateBackend,
        name: str,
        settings: TtlSettings,
        clock: Clock,
        function: Aggregator[IN, Any, OUT],
    ) -> None:
        super().__init__(backend, name, settings, clock)
        self._function = function

    def get(self) -> OUT | None:
        """The aggregate of the current key; ``None`` when nothing was added or it expired."""
        accumulator = self._read_single()
        return None if accumulator is _ABSENT else self._function.get_result(accumulator)

    def add(self, value: IN) -> None:
        """Add ``value`` to the current key's (unexpired, else new) accumulator."""
        accumulator = self._unexpired_single()
        if accumulator is _ABSENT:
            accumulator = self._function.create_accumulator()
        accumulator = self._function.add(value, accumulator)
        self._table[self._backend.current_key] = (accumulator, self._now())


class TtlListState(_Ttl, ListState[T]):
    """``ListState`` with a TTL per element (Flink's ``TtlListState``)."""

    __slots__ = _TTL_SLOTS

    kind = "list"

    def _unexpired_table(self, table: dict[Any, Any]) -> dict[Any, Any]:
        oldest = self._now() - self._ttl
        kept = {k: [e for e in entries if e[1] > oldest] for k, entries in table.items()}
        return {k: entries for k, entries in kept.items() if entries}

    def get(self) -> list[T]:
        """The current key's unexpired elements, oldest first; expired ones are removed."""
        key = self._backend.current_key
        entries = self._table.get(key)
        if not entries:
            return []
        now = self._now()
        oldest = now - self._ttl
        live = [e for e in entries if e[1] > oldest]
        values = [e[0] for e in (entries if self._return_expired else live)]
        if self._on_read:
            live = [(e[0], now) for e in live]
        elif len(live) == len(entries):
            return values
        if live:
            self._table[key] = live
        else:
            del self._table[key]
        return values

    def add(self, value: T) -> None:
        """Append to the current key's list."""
        self._table.setdefault(self._backend.current_key, []).append((value, self._now()))

    def add_all(self, values: Iterable[T]) -> None:
        """Append every value to the current key's list."""
        now = self._now()
        self._table.setdefault(self._backend.current_key, []).extend((v, now) for v in values)

    def update(self, values: Iterable[T]) -> None:
        """Replace the current key's list."""
        now = self._now()
        entries = [(v, now) for v in values]
        if entries:
            self._table[self._backend.current_key] = entries
        else:
            self._table.pop(self._backend.current_key, None)


class TtlMapState(_Ttl, MapState[K, V]):
    """``MapState`` with a TTL per entry (Flink's ``TtlMapState``)."""

    __slots__ = _TTL_SLOTS

    kind = "map"

    def _unexpired_table(self, table: dict[Any, Any]) -> dict[Any, Any]:
        oldest = self._now() - self._ttl
        kept = {k: {mk: e for mk, e in m.items() if e[1] > oldest} for k, m in table.items()}
        return {k: m for k, m in kept.items() if m}

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value under ``key``; ``default`` when absent or expired (then removed)."""
        entries = self._table.get(self._backend.current_key)
        if entries is None:
            return default
        entry = entries.get(key)
        if entry is None:
            return default
        now = self._now()
        if now - entry[1] >= self._ttl:
            del entries[key]
            if not entries:
                del self._table[self._backend.current_key]
            return entry[0] if self._return_expired else default
        if self._on_read:
            entries[key] = (entry[0], now)
        return entry[0]  # type: ignore[no-any-return]

    def put(self, key: K, value: V) -> None:
        """Set ``key`` in the current key's map."""
        self._table.setdefault(self._backend.current_key, {})[key] = (value, self._now())

    def put_all(self, entries: dict[K, V]) -> None:
        """Set every entry of ``entries``."""
        now = self._now()
        self._table.setdefault(self._backend.current_key, {}).update(
            (k, (v, now)) for k, v in entries.items()
        )

    def contains(self, key: K) -> bool:
        """Whether ``key`` has an unexpired value (a read: it may refresh or remove it)."""
        return self.get(key, _ABSENT) is not _ABSENT

    def _live(self) -> list[tuple[K, V]]:
        """The current key's entries after the TTL rules (a read of every entry)."""
        current = self._backend.current_key
        entries = self._table.get(current)
        if not entries:
            return []
        now = self._now()
        oldest = now - self._ttl
        live = {k: e for k, e in entries.items() if e[1] > oldest}
        shown = entries if self._return_expired else live
        result = [(k, e[0]) for k, e in shown.items()]
        if self._on_read:
            live = {k: (e[0], now) for k, e in live.items()}
        elif len(live) == len(entries):
            return result
        if live:
            self._table[current] = live
        else:
            del self._table[current]
        return result

    def items(self) -> Iterator[tuple[K, V]]:
        """The current key's unexpired entries (a snapshot)."""
        return iter(self._live())

    def keys(self) -> Iterator[K]:
        """The current key's unexpired map keys (a snapshot)."""
        return iter([k for k, _ in self._live()])

    def values(self) -> Iterator[V]:
        """The current key's unexpired map values (a snapshot)."""
        return iter([v for _, v in self._live()])

    def is_empty(self) -> bool:
        """Whether the current key's map has no unexpired entry."""
        return not self._live()
