"""State descriptors through RuntimeContext: every kind, the checks, and snapshot copies."""

from __future__ import annotations

from typing import Any

import pytest

from operators.filter import FilterOperator
from operators.map import MapOperator
from operators.process import ProcessOperator
from streamrt import (
    AggregateFunction,
    AggregatingState,
    AggregatingStateDescriptor,
    FilterFunction,
    GraphError,
    KeyedProcessFunction,
    ListState,
    ListStateDescriptor,
    MapFunction,
    MapState,
    MapStateDescriptor,
    ReduceFunction,
    ReducingState,
    ReducingStateDescriptor,
    RuntimeContext,
    StateDescriptor,
    ValueState,
    ValueStateDescriptor,
)
from streamrt.runtime.state import KeyedStateBackend
from streamrt.testing import OperatorHarness


class Average(AggregateFunction[int, list[int], float]):
    """Accumulates in place ([sum, count]), as accumulators often do."""

    def create_accumulator(self) -> list[int]:
        return [0, 0]

    def add(self, value: int, accumulator: list[int]) -> list[int]:
        accumulator[0] += value
        accumulator[1] += 1
        return accumulator

    def get_result(self, accumulator: list[int]) -> float:
        return accumulator[0] / accumulator[1]


class Longest(ReduceFunction[str]):
    def reduce(self, value1: str, value2: str) -> str:
        return value2 if len(value2) > len(value1) else value1


class AllKinds(KeyedProcessFunction[tuple[str, int], Any]):
    """Feeds every state kind from (key, number) records and emits what each holds."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.last = runtime_context.get_state(ValueStateDescriptor("last", None))
        self.seen = runtime_context.get_list_state(ListStateDescriptor("seen", None))
        self.counts = runtime_context.get_map_state(MapStateDescriptor("counts", None, None))
        self.total = runtime_context.get_reducing_state(
            ReducingStateDescriptor("total", lambda a, b: a + b, None)
        )
        self.words = runtime_context.get_reducing_state(
            ReducingStateDescriptor("longest", Longest(), None)
        )
        self.average = runtime_context.get_aggregating_state(
            AggregatingStateDescriptor("average", Average(), None)
        )

    def process_element(self, value: tuple[str, int], ctx: Any) -> Any:  # type: ignore[override]
        _, number = value
        previous = self.last.value()
        self.last.update(number)
        self.seen.add(number)
        self.counts.put(number % 2, (self.counts.get(number % 2) or 0) + 1)
        self.total.add(number)
        self.words.add("x" * number)
        self.average.add(number)
        yield (
            previous,
            self.seen.get(),
            dict(self.counts.items()),
            self.total.get(),
            self.words.get(),
            self.average.get(),
        )


def key(value: tuple[str, int]) -> str:
    return value[0]


async def test_every_kind_of_state_is_per_key_through_descriptors() -> None:
    operator: ProcessOperator[Any, Any] = ProcessOperator(AllKinds())
    harness = await OperatorHarness(operator, key_selector=key).open()
    harness.process_elements([("a", 3), ("b", 10), ("a", 4), ("a", 1)])
    assert harness.values() == [
        (None, [3], {1: 1}, 3, "xxx", 3.0),
        (None, [10], {0: 1}, 10, "x" * 10, 10.0),
        (3, [3, 4], {1: 1, 0: 1}, 7, "xxxx", 3.5),
        (4, [3, 4, 1], {1: 2, 0: 1}, 8, "xxxx", 8 / 3),
    ]
    backend = operator.state_backend
    assert backend is not None
    assert backend.state_dict()["kinds"] == {
        "last": "value",
        "seen": "list",
        "counts": "map",
        "total": "reducing",
        "longest": "reducing",
        "average": "aggregating",
    }


async def test_a_restored_operator_continues_every_kind_exactly() -> None:
    first = await OperatorHarness(ProcessOperator(AllKinds()), key_selector=key).open()
    first.process_elements([("a", 3), ("a", 4)])
    snapshot = first.operator.state_dict()
    first.process_element(("a", 100))  # after the snapshot: not in it
    second = OperatorHarness(ProcessOperator(AllKinds()), key_selector=key)
    second.operator.load_state_dict(snapshot)
    await second.open()
    second.process_element(("a", 1))
    assert second.values() == [(4, [3, 4, 1], {1: 2, 0: 1}, 8, "xxxx", 8 / 3)]


def test_a_snapshot_is_independent_of_accumulators_changed_in_place() -> None:
    backend = KeyedStateBackend()
    average: AggregatingState[int, float] = AggregatingState(backend, "avg", Average())
    backend.current_key = "k"
    average.add(2)
    snapshot = backend.state_dict()
    average.add(4)  # Average.add changes the stored list in place
    assert snapshot["tables"]["avg"] == {"k": [2, 1]}
    restored = KeyedStateBackend()
    restored.load_state_dict(snapshot)
    restored.current_key = "k"
    AggregatingState(restored, "avg", Average()).add(10)
    assert snapshot["tables"]["avg"] == {"k": [2, 1]}  # the restore did not write into it
    assert average.get() == 3.0


def test_reducing_and_aggregating_state_read_none_until_added_and_after_clear() -> None:
    backend = KeyedStateBackend()
    total: ReducingState[int] = ReducingState(backend, "t", lambda a, b: a + b)
    average: AggregatingState[int, float] = AggregatingState(backend, "a", Average())
    backend.current_key = 1
    assert (total.get(), average.get()) == (None, None)
    total.add(5)
    average.add(5)
    total.clear()
    average.clear()
    assert (total.get(), average.get()) == (None, None)
    assert backend.keys() == set()


def test_map_and_list_state_speak_pyflink() -> None:
    backend = KeyedStateBackend()
    entries: MapState[str, int] = MapState(backend, "m")
    items: ListState[int] = ListState(backend, "l")
    backend.current_key = "k"
    entries["a"] = 1
    entries.put_all({"b": 2, "c": 3})
    del entries["c"]
    assert ("a" in entries, "c" in entries, entries["b"]) == (True, False, 2)
    assert (list(entries), list(entries.keys()), list(entries.values())) == (
        ["a", "b"],
        ["a", "b"],
        [1, 2],
    )
    with pytest.raises(KeyError):
        entries["c"]
    items.add_all([1, 2])
    assert list(items) == [1, 2]
    entries.remove("a")
    entries.remove("b")
    assert backend.keys() == {"k"}  # the list; an emptied map leaves no entry behind
    items.clear()
    assert backend.keys() == set()


class Opens(KeyedProcessFunction[Any, Any]):
    def __init__(self, call: Any) -> None:
        self.call = call

    def open(self, runtime_context: RuntimeContext) -> None:
        self.call(runtime_context)

    def process_element(self, value: Any, ctx: Any, out: Any) -> None:
        pass


async def open_with(call: Any, *, keyed: bool = True) -> None:
    harness = OperatorHarness(ProcessOperator(Opens(call)), key_selector=key if keyed else None)
    await harness.open()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda rc: rc.get_list_state(ValueStateDescriptor("v", None)),
            "get_list_state() needs a ListStateDescriptor; got ValueStateDescriptor 'v' "
            "(use get_state() for it)",
        ),
        (
            lambda rc: rc.get_state(MapStateDescriptor("m", None, None)),
            "get_state() needs a ValueStateDescriptor; got MapStateDescriptor 'm' "
            "(use get_map_state() for it)",
        ),
        (
            lambda rc: rc.get_reducing_state("total"),
            "get_reducing_state() needs a ReducingStateDescriptor; got 'total'",
        ),
        (
            lambda rc: rc.get_reducing_state(ReducingStateDescriptor("r", 42, None)),
            "reduce() needs a ReduceFunction or a callable; got 42",
        ),
        (
            lambda rc: rc.get_aggregating_state(AggregatingStateDescriptor("a", len, None)),
            "AggregatingStateDescriptor 'a' needs an AggregateFunction (create_accumulator, "
            "add, get_result); got <built-in function len>",
        ),
        (
            lambda rc: (
                rc.get_state(ValueStateDescriptor("s", None)),
                rc.get_list_state(ListStateDescriptor("s", None)),
            ),
            "state 's' is a value state; it cannot also be a list state",
        ),
    ],
)
async def test_misused_descriptors_are_named(call: Any, message: str) -> None:
    with pytest.raises(GraphError) as info:
        await open_with(call)
    assert str(info.value) == message


async def test_state_on_a_non_keyed_stream_is_refused() -> None:
    with pytest.raises(GraphError) as info:
        await open_with(lambda rc: rc.get_state(ValueStateDescriptor("v", None)), keyed=False)
    assert str(info.value) == (
        "get_state() needs a keyed stream; operator 'operator under test' is not keyed "
        "(call key_by() before it)"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: ReducingStateDescriptor("r"),
            "ReducingStateDescriptor 'r' needs reduce_function (a ReduceFunction or a "
            "callable (a, b) -> value); got None",
        ),
        (
            lambda: AggregatingStateDescriptor("a"),
            "AggregatingStateDescriptor 'a' needs agg_function (an AggregateFunction); got None",
        ),
        (lambda: ValueStateDescriptor(""), "a state descriptor needs a non-empty name; got ''"),
        (
            lambda: ValueStateDescriptor("v").enable_time_to_live(1_000),  # type: ignore[arg-type]
            "enable_time_to_live() needs a StateTtlConfig (StateTtlConfig.new_builder(...)"
            ".build()); got 1000 for state 'v'",
        ),
    ],
)
def test_descriptors_check_what_they_are_given(make: Any, message: str) -> None:
    with pytest.raises(GraphError) as info:
        make()
    assert str(info.value) == message


def test_descriptors_keep_pyflinks_constructors() -> None:
    descriptor = MapStateDescriptor("rules", "key type", "value type")
    assert (descriptor.get_name(), descriptor.key_type_info, descriptor.value_type_info) == (
        "rules",
        "key type",
        "value type",
    )
    assert isinstance(descriptor, StateDescriptor)
    assert descriptor.ttl_config is None


async def test_name_based_state_still_works() -> None:
    class Counter(KeyedProcessFunction[Any, Any]):
        def open(self, runtime_context: RuntimeContext) -> None:
            self.count: ValueState[int] = runtime_context.get_state("count", 0)

        def process_element(self, value: Any, ctx: Any, out: Any) -> None:
            self.count.update((self.count.value() or 0) + 1)
            out.collect(self.count.value())

    harness = await OperatorHarness(ProcessOperator(Counter()), key_selector=str).open()
    harness.process_elements(["a", "a", "b"])
    assert harness.values() == [1, 2, 1]


class CountPerKey(MapFunction[str, tuple[str, int]]):
    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("n", None))

    def map(self, value: str) -> tuple[str, int]:
        count = (self.count.value() or 0) + 1
        self.count.update(count)
        return value, count


class FirstPerKey(FilterFunction[str]):
    def open(self, runtime_context: RuntimeContext) -> None:
        self.seen = runtime_context.get_state(ValueStateDescriptor("seen", None))

    def filter(self, value: str) -> bool:
        first = self.seen.value() is None
        self.seen.update(True)
        return first


async def test_map_and_filter_functions_have_keyed_state_on_keyed_streams() -> None:
    counter: MapOperator[str, Any] = MapOperator(CountPerKey())
    counts = await OperatorHarness(counter, key_selector=str).open()
    counts.process_elements(["a", "b", "a", "a"])
    assert counts.values() == [("a", 1), ("b", 1), ("a", 2), ("a", 3)]
    firsts = await OperatorHarness(FilterOperator(FirstPerKey()), key_selector=str).open()
    firsts.process_elements(["a", "b", "a", "c", "b"])
    assert firsts.values() == ["a", "b", "c"]


async def test_only_function_objects_on_keyed_streams_pay_for_the_key_context() -> None:
    keyed_callable: MapOperator[str, str] = MapOperator(str.upper)
    OperatorHarness(keyed_callable, key_selector=str)
    unkeyed_function: MapOperator[str, Any] = MapOperator(CountPerKey())
    OperatorHarness(unkeyed_function)
    keyed_function: MapOperator[str, Any] = MapOperator(CountPerKey())
    OperatorHarness(keyed_function, key_selector=str)
    assert "process_element" not in vars(keyed_callable)
    assert "process_element" not in vars(unkeyed_function)
    assert "process_element" in vars(keyed_function)
