"""Keyed state with a namespace: per-window state of triggers and process window functions.

Port of the role of Flink's namespaced ``InternalKvState``. Each named state is one map-kind
table of the operator's ``KeyedStateBackend``: ``key -> {namespace: value}``, so it is
checkpointed, restored and rescaled by key group like any keyed state. The namespace is a
window (per-window state) or ``None`` (a key's global state); views read it from their scope
at each call, so one view serves every window.

A descriptor with a time-to-live is refused (``GraphError``): these views store plain values,
so a TTL would be silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from streamrt.errors import GraphError
from streamrt.functions import AggregateFunction, ReduceFunction, function_callable
from streamrt.runtime.state import KeyedStateBackend
from streamrt.state_descriptors import StateDescriptor

__all__ = ["NamespacedStateStore", "StateScope"]

_ABSENT: Any = object()


class StateScope(Protocol):
    """Where a view reads its namespace."""

    namespace: Any


class _FixedScope:
    __slots__ = ("namespace",)

    def __init__(self, namespace: Any) -> None:
        self.namespace = namespace


class _View:
    __slots__ = ("_backend", "_scope", "_table")

    def __init__(
        self, backend: KeyedStateBackend, table: dict[Any, Any], scope: StateScope
    ) -> None:
        self._backend = backend
        self._table = table
        self._scope = scope

    def _get(self, default: Any = None) -> Any:
        spaces = self._table.get(self._backend.current_key)
        return default if spaces is None else spaces.get(self._scope.namespace, default)

    def _set(self, value: Any) -> None:
        key = self._backend.current_key
        spaces = self._table.get(key)
        if spaces is None:
            spaces = self._table[key] = {}
        spaces[self._scope.namespace] = value

    def clear(self) -> None:
        """Remove this key's value in this namespace."""
        key = self._backend.current_key
        spaces = self._table.get(key)
        if spaces is not None:
            spaces.pop(self._scope.namespace, None)
            if not spaces:
                del self._table[key]


class _ValueState(_View):
    __slots__ = ()

    def value(self) -> Any:
        return self._get()

    def update(self, value: Any) -> None:
        self._set(value)


class _ListState(_View):
    __slots__ = ()

    def get(self) -> list[Any]:
        return list(self._get(()))

    def add(self, value: Any) -> None:
        current = self._get(_ABSENT)
        if current is _ABSENT:
            self._set([value])
        else:
            current.append(value)

    def add_all(self, values: Iterable[Any]) -> None:
        for value in values:
            self.add(value)

    def update(self, values: Iterable[Any]) -> None:
        self._set(list(values))


class _MapState(_View):
    __slots__ = ()

    def _map(self) -> dict[Any, Any]:
        current = self._get(_ABSENT)
        if current is _ABSENT:
            current = {}
            self._set(current)
        return current  # type: ignore[no-any-return]

    def get(self, key: Any, default: Any = None) -> Any:
        return self._get({}).get(key, default)

    def put(self, key: Any, value: Any) -> None:
        self._map()[key] = value

    def put_all(self, entries: dict[Any, Any]) -> None:
        self._map().update(entries)

    def remove(self, key: Any) -> None:
        self._map().pop(key, None)

    def contains(self, key: Any) -> bool:
        return key in self._get({})

    def keys(self) -> Iterator[Any]:
        return iter(list(self._get({})))

    def values(self) -> Iterator[Any]:
        return iter(list(self._get({}).values()))

    def items(self) -> Iterator[tuple[Any, Any]]:
        return iter(list(self._get({}).items()))

    def is_empty(self) -> bool:
        return not self._get({})


class _ReducingState(_View):
    __slots__ = ("_reduce",)

    def __init__(
        self, backend: KeyedStateBackend, table: dict[Any, Any], scope: StateScope, fn: Any
    ) -> None:
        super().__init__(backend, table, scope)
        self._reduce = function_callable(fn, ReduceFunction, "reduce")

    def get(self) -> Any:
        return self._get()

    def add(self, value: Any) -> None:
        current = self._get(_ABSENT)
        self._set(value if current is _ABSENT else self._reduce(current, value))

    def merge(self, a: Any, b: Any) -> Any:
        return self._reduce(a, b)


class _AggregatingState(_View):
    __slots__ = ("_agg",)

    def __init__(
        self,
        backend: KeyedStateBackend,
        table: dict[Any, Any],
        scope: StateScope,
        agg: AggregateFunction[Any, Any, Any],
    ) -> None:
        super().__init__(backend, table, scope)
        self._agg = agg

    def get(self) -> Any:
        acc = self._get(_ABSENT)
        return None if acc is _ABSENT else self._agg.get_result(acc)

    def add(self, value: Any) -> None:
        acc = self._get(_ABSENT)
        if acc is _ABSENT:
            acc = self._agg.create_accumulator()
        self._set(self._agg.add(value, acc))

    def merge(self, a: Any, b: Any) -> Any:
        return self._agg.merge(a, b)


class NamespacedStateStore:
    """Hands out state views scoped to (current key, ``scope.namespace``).

    Args:
        backend: the operator's keyed state.
        prefix: table names are ``prefix + descriptor.name`` (one store per use, so a
            trigger's state and a user's cannot clash).
        scope: gives the namespace; by default the fixed namespace ``None`` (global state).

    Every getter raises ``GraphError`` for a descriptor of another kind than it returns, or one
    with a time-to-live (``enable_time_to_live``): a TTL is not supported here.
    """

    def __init__(
        self, backend: KeyedStateBackend, prefix: str, scope: StateScope | None = None
    ) -> None:
        self._backend = backend
        self._prefix = prefix
        self._scope: StateScope = scope if scope is not None else _FixedScope(None)
        self._views: dict[str, _View] = {}
        self._kinds: dict[str, str] = {}
        # state restored from a checkpoint is cleaned up with its windows even before a view
        # of it is asked for again
        self._tables: dict[str, dict[Any, Any]] = {
            n: backend.table(n, "map") for n in backend.snapshot()["kinds"] if n.startswith(prefix)
        }

    def _view(self, descriptor: StateDescriptor, kind: str) -> Any:
        if not isinstance(descriptor, StateDescriptor):
            msg = f"a state needs a StateDescriptor; got {descriptor!r}"
            raise GraphError(msg)
        name = descriptor.name
        if descriptor.ttl_config is not None:
            # refused rather than silently kept forever: these views store plain values
            msg = (
                f"state {name!r} has a time-to-live, which window and trigger state "
                f"({self._prefix}{name}) does not support; drop enable_time_to_live() and "
                "clear the state yourself (e.g. in the window function's clear()), or keep it "
                "in a keyed process function"
            )
            raise GraphError(msg)
        known = self._kinds.setdefault(name, descriptor.kind)
        if known != descriptor.kind or descriptor.kind != kind:
            msg = (
                f"state {name!r} is a {known} state; it cannot be used as a {kind} state "
                f"(descriptor {type(descriptor).__name__})"
            )
            raise GraphError(msg)
        view = self._views.get(name)
        if view is None:
            table = self._backend.table(self._prefix + name, "map")
            self._tables[self._prefix + name] = table
            if kind == "reducing":
                view = _ReducingState(
                    self._backend, table, self._scope, getattr(descriptor, "reduce_function", None)
                )
            elif kind == "aggregating":
                agg = getattr(descriptor, "agg_function", None)
                if not isinstance(agg, AggregateFunction):
                    msg = f"state {name!r} needs an AggregateFunction; got {agg!r}"
                    raise GraphError(msg)
                view = _AggregatingState(self._backend, table, self._scope, agg)
            else:
                view = _KINDS[kind](self._backend, table, self._scope)
            self._views[name] = view
        return view

    def get_state(self, state_descriptor: StateDescriptor) -> Any:
        """A value (``ValueStateDescriptor``)."""
        return self._view(state_descriptor, "value")

    def get_list_state(self, state_descriptor: StateDescriptor) -> Any:
        """A list (``ListStateDescriptor``)."""
        return self._view(state_descriptor, "list")

    def get_map_state(self, state_descriptor: StateDescriptor) -> Any:
        """A dict (``MapStateDescriptor``)."""
        return self._view(state_descriptor, "map")

    def get_reducing_state(self, state_descriptor: StateDescriptor) -> Any:
        """A folded value (``ReducingStateDescriptor``)."""
        return self._view(state_descriptor, "reducing")

    def get_aggregating_state(self, state_descriptor: StateDescriptor) -> Any:
        """An accumulator (``AggregatingStateDescriptor``)."""
        return self._view(state_descriptor, "aggregating")

    def get_partitioned_state(self, state_descriptor: StateDescriptor) -> Any:
        """Any kind, as the descriptor says (a trigger's ``ctx.get_partitioned_state``)."""
        return self._view(state_descriptor, state_descriptor.kind)

    def merge_namespaces(
        self, state_descriptor: StateDescriptor, target: Any, sources: Iterable[Any]
    ) -> None:
        """Fold the current key's values of ``sources`` into ``target`` (merging windows).

        Raises:
            GraphError: the state is not a reducing, aggregating or list state.
        """
        kind = state_descriptor.kind
        if kind not in ("reducing", "aggregating", "list"):
            msg = (
                "only reducing, aggregating and list states merge; "
                f"{state_descriptor.name!r} is a {kind} state"
            )
            raise GraphError(msg)
        view = self._view(state_descriptor, kind)
        spaces = view._table.get(self._backend.current_key)  # noqa: SLF001  (same module)
        if spaces is None:
            return
        merged = spaces.get(target, _ABSENT)
        for source in sources:
            if source == target or source not in spaces:
                continue
            value = spaces.pop(source)
            if merged is _ABSENT:
                merged = value
            elif kind == "list":
                merged = [*merged, *value]
            else:
                merged = view.merge(merged, value)
        if merged is not _ABSENT:
            spaces[target] = merged

    def clear_namespace(self, namespace: Any) -> None:
        """Remove every state of the current key in ``namespace`` (the window is gone)."""
        key = self._backend.current_key
        for table in self._tables.values():
            spaces = table.get(key)
            if spaces is not None:
                spaces.pop(namespace, None)
                if not spaces:
                    del table[key]


_KINDS: dict[str, type[_View]] = {"value": _ValueState, "list": _ListState, "map": _MapState}
