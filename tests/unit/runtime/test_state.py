"""Keyed state: Value/List/MapState scoped by the current key, kinds, snapshots."""

from __future__ import annotations

import pytest

from streamrt.errors import GraphError
from streamrt.runtime.state import KeyedStateBackend, ListState, MapState, ValueState


def test_value_state_is_scoped_by_the_current_key() -> None:
    backend = KeyedStateBackend()
    count: ValueState[int] = ValueState(backend, "count", default=0)
    backend.current_key = "a"
    assert count.value() == 0
    count.update(3)
    backend.current_key = "b"
    assert count.value() == 0
    count.update(7)
    backend.current_key = "a"
    assert count.value() == 3
    count.clear()
    assert count.value() == 0
    backend.current_key = "b"
    assert count.value() == 7
    count.clear()
    count.clear()  # clearing an absent value is no error
    assert backend.keys() == set()


def test_value_state_without_default_reads_none() -> None:
    backend = KeyedStateBackend()
    last: ValueState[str] = ValueState(backend, "last")
    backend.current_key = 1
    assert last.value() is None


def test_two_handles_on_one_name_share_the_table() -> None:
    backend = KeyedStateBackend()
    backend.current_key = "k"
    first: ValueState[int] = ValueState(backend, "v")
    second: ValueState[int] = ValueState(backend, "v")
    first.update(5)
    assert second.value() == 5


def test_list_state_is_scoped_and_hands_out_copies() -> None:
    backend = KeyedStateBackend()
    items: ListState[int] = ListState(backend, "items")
    backend.current_key = "a"
    assert items.get() == []
    items.add(1)
    items.add(2)
    backend.current_key = "b"
    items.add(10)
    assert items.get() == [10]
    backend.current_key = "a"
    got = items.get()
    got.append(99)  # a copy: the state is unchanged
    assert items.get() == [1, 2]
    replacement = [4, 5]
    items.update(replacement)
    replacement.append(6)  # update copied its argument
    assert items.get() == [4, 5]
    items.clear()
    assert items.get() == []
    backend.current_key = "b"
    assert items.get() == [10]


def test_map_state_is_scoped_by_the_current_key() -> None:
    backend = KeyedStateBackend()
    seen: MapState[str, int] = MapState(backend, "seen")
    backend.current_key = "a"
    assert seen.is_empty()
    seen.put("x", 1)
    seen.put("y", 2)
    backend.current_key = "b"
    assert seen.is_empty()
    assert not seen.contains("x")
    assert seen.get("x") is None
    assert seen.get("x", -1) == -1
    seen.put("x", 10)
    backend.current_key = "a"
    assert seen.get("x") == 1
    assert seen.contains("y")
    assert list(seen.items()) == [("x", 1), ("y", 2)]
    for entry in seen.items():  # items() is a snapshot: removing while iterating is fine
        seen.remove(entry[0])
    assert seen.is_empty()
    seen.remove("absent")  # no error
    backend.current_key = "b"
    assert list(seen.items()) == [("x", 10)]
    seen.clear()
    assert seen.is_empty()


def test_keys_lists_every_key_with_any_state() -> None:
    backend = KeyedStateBackend()
    value: ValueState[int] = ValueState(backend, "v")
    items: ListState[int] = ListState(backend, "l")
    backend.current_key = "a"
    value.update(1)
    backend.current_key = "b"
    items.add(1)
    backend.current_key = "c"
    value.update(2)
    assert backend.keys() == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (ValueState, ListState, "state 's' is a value state; it cannot also be a list state"),
        (ListState, MapState, "state 's' is a list state; it cannot also be a map state"),
        (MapState, ValueState, "state 's' is a map state; it cannot also be a value state"),
    ],
)
def test_one_name_has_one_kind(first: type, second: type, message: str) -> None:
    backend = KeyedStateBackend()
    first(backend, "s")
    with pytest.raises(GraphError) as info:
        second(backend, "s")
    assert str(info.value) == message


def populated() -> tuple[KeyedStateBackend, ValueState[int], ListState[int], MapState[str, int]]:
    backend = KeyedStateBackend()
    value: ValueState[int] = ValueState(backend, "v")
    items: ListState[int] = ListState(backend, "l")
    seen: MapState[str, int] = MapState(backend, "m")
    backend.current_key = "a"
    value.update(1)
    items.add(1)
    seen.put("x", 1)
    backend.current_key = "b"
    value.update(2)
    return backend, value, items, seen


def test_state_dict_is_plain_data() -> None:
    backend, _, _, _ = populated()
    assert backend.state_dict() == {
        "kinds": {"v": "value", "l": "list", "m": "map"},
        "tables": {"v": {"a": 1, "b": 2}, "l": {"a": [1]}, "m": {"a": {"x": 1}}},
    }


def test_state_dict_round_trip_restores_every_state() -> None:
    backend, _, _, _ = populated()
    snapshot = backend.state_dict()
    restored = KeyedStateBackend()
    restored.load_state_dict(snapshot)
    assert restored.state_dict() == snapshot
    value: ValueState[int] = ValueState(restored, "v")
    items: ListState[int] = ListState(restored, "l")
    seen: MapState[str, int] = MapState(restored, "m")
    restored.current_key = "a"
    assert (value.value(), items.get(), seen.get("x")) == (1, [1], 1)
    restored.current_key = "b"
    assert (value.value(), items.get(), seen.is_empty()) == (2, [], True)
    with pytest.raises(GraphError, match="state 'v' is a value state"):
        ListState(restored, "v")  # kinds are restored too


def test_a_snapshot_does_not_change_when_values_are_set_later() -> None:
    backend, value, _, _ = populated()
    snapshot = backend.state_dict()
    backend.current_key = "a"
    value.update(100)
    backend.current_key = "new"
    value.update(5)
    ValueState(backend, "another")
    assert snapshot == {
        "kinds": {"v": "value", "l": "list", "m": "map"},
        "tables": {"v": {"a": 1, "b": 2}, "l": {"a": [1]}, "m": {"a": {"x": 1}}},
    }


def test_a_restored_backend_does_not_write_into_the_snapshot_values() -> None:
    backend, _, _, _ = populated()
    snapshot = backend.state_dict()
    restored = KeyedStateBackend()
    restored.load_state_dict(snapshot)
    restored.current_key = "a"
    ValueState[int](restored, "v").update(100)
    restored.current_key = "b"
    ValueState[int](restored, "v").clear()
    assert snapshot["tables"]["v"] == {"a": 1, "b": 2}


# state_dict() copies the tables one level deep: a key's list or dict is the same object in
# the snapshot and in the live state, so ListState.add / MapState.put after a checkpoint change
# the checkpoint kept in memory (and a job restored from it writes into it).
def test_a_snapshot_does_not_change_when_lists_and_maps_grow_later() -> None:
    backend, _, items, seen = populated()
    snapshot = backend.state_dict()
    backend.current_key = "a"
    items.add(2)
    seen.put("y", 2)
    assert snapshot["tables"]["l"] == {"a": [1]}
    assert snapshot["tables"]["m"] == {"a": {"x": 1}}


def test_a_restored_backend_does_not_write_into_the_snapshot_lists_and_maps() -> None:
    backend, _, _, _ = populated()
    snapshot = backend.state_dict()
    restored = KeyedStateBackend()
    restored.load_state_dict(snapshot)
    restored.current_key = "a"
    ListState[int](restored, "l").add(2)
    MapState[str, int](restored, "m").put("y", 2)
    assert snapshot["tables"]["l"] == {"a": [1]}
    assert snapshot["tables"]["m"] == {"a": {"x": 1}}
