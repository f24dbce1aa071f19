"""Two-input operators driven by the harness: exact outputs, watermarks, timers, state."""

from __future__ import annotations

from typing import Any

import pytest

from operators import (
    CoBroadcastProcessOperator,
    CoFlatMapOperator,
    CoMapOperator,
    CoProcessOperator,
)
from streamrt import (
    MIN_WATERMARK,
    BroadcastProcessFunction,
    BroadcastState,
    CoFlatMapFunction,
    CoMapFunction,
    CoProcessFunction,
    GraphError,
    KeyedBroadcastProcessFunction,
    KeyedCoProcessFunction,
    MapStateDescriptor,
    OutputTag,
    ReadOnlyBroadcastState,
    ValueStateDescriptor,
)
from streamrt.functions import RuntimeContext
from streamrt.runtime.elements import StreamRecord, Watermark, WatermarkStatus
from streamrt.runtime.state import ValueState
from streamrt.testing import TwoInputOperatorHarness


class Tag(CoMapFunction[int, str, str]):
    def map1(self, value: int) -> str:
        return f"n{value}"

    def map2(self, value: str) -> str:
        return f"s{value}"


class Split(CoFlatMapFunction[str, int, Any]):
    def flat_map1(self, value: str) -> Any:
        return value.split()

    def flat_map2(self, value: int) -> Any:
        yield from range(value)


async def test_co_map_applies_each_inputs_function_and_keeps_timestamps() -> None:
    harness = await TwoInputOperatorHarness(CoMapOperator(Tag())).open()
    harness.process_element1(1, 10)
    harness.process_element2("x", 20)
    harness.process_element1(2)
    assert [StreamRecord("n1", 10), StreamRecord("sx", 20), StreamRecord("n2")] == harness.emitted
    assert harness.context.metrics.records_in.count == 0  # the task counts records in


async def test_co_flat_map_emits_every_value_of_each_side() -> None:
    harness = await TwoInputOperatorHarness(CoFlatMapOperator(Split())).open()
    harness.process_element1("a b", 5)
    harness.process_element2(3, 6)
    assert [
        StreamRecord("a", 5),
        StreamRecord("b", 5),
        StreamRecord(0, 6),
        StreamRecord(1, 6),
        StreamRecord(2, 6),
    ] == harness.emitted


class CountMap(CoMapFunction[tuple[str, str], tuple[str, str], Any]):
    """Counts per key in keyed state, from either input; first-input keys are field 0, second
    input keys are field 1 (so the test sees each input use its own selector)."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count: ValueState[int] = runtime_context.get_state(ValueStateDescriptor("n", int))

    def bump(self, label: str) -> tuple[str, int]:
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        return label, n

    def map1(self, value: tuple[str, str]) -> Any:
        return self.bump(value[1])

    def map2(self, value: tuple[str, str]) -> Any:
        return self.bump(value[1])


class CountFlatMap(CoFlatMapFunction[tuple[str, str], tuple[str, str], Any]):
    """``CountMap`` as a flat map (yielding on one input, returning a list on the other)."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.counter = CountMap()
        self.counter.open(runtime_context)

    def flat_map1(self, value: tuple[str, str]) -> Any:
        yield self.counter.map1(value)

    def flat_map2(self, value: tuple[str, str]) -> Any:
        return [self.counter.map2(value)]


@pytest.mark.parametrize("operator_type", [CoMapOperator, CoFlatMapOperator])
async def test_keyed_co_map_and_flat_map_set_each_records_key_from_its_own_input(
    operator_type: Any,
) -> None:
    function = CountMap() if operator_type is CoMapOperator else CountFlatMap()
    harness = await TwoInputOperatorHarness(
        operator_type(function),
        key_selector1=lambda v: v[0],
        key_selector2=lambda v: v[1][0],  # "b2" -> "b": another field than input 1
    ).open()
    harness.process_element1(("a", "a1"), 1)
    harness.process_element2(("x", "b1"), 2)
    harness.process_element1(("a", "a2"), 3)
    harness.process_element2(("y", "a3"), 4)  # key "a" from the second input
    harness.process_element1(("b", "b2"), 5)
    assert [
        StreamRecord(("a1", 1), 1),
        StreamRecord(("b1", 1), 2),
        StreamRecord(("a2", 2), 3),
        StreamRecord(("a3", 3), 4),
        StreamRecord(("b2", 2), 5),
    ] == harness.emitted
    operator: Any = harness.operator
    assert operator.state_backend.snapshot()["tables"] == {"n": {"a": 3, "b": 2}}


async def test_non_keyed_co_map_keeps_its_bare_methods() -> None:
    # the key context is decided in setup: nothing wraps the record path when not keyed
    for operator in (CoMapOperator(Tag()), CoFlatMapOperator(Split())):
        await TwoInputOperatorHarness(operator).open()
        assert "process_element1" not in vars(operator)
        assert "process_element2" not in vars(operator)
        assert operator.state_backend is None


def test_keyed_co_map_needs_both_inputs_keyed() -> None:
    with pytest.raises(GraphError, match="either both inputs are keyed or neither is"):
        TwoInputOperatorHarness(CoMapOperator(CountMap()), key_selector1=lambda v: v[0])


def test_co_operators_refuse_other_functions_at_build_time() -> None:
    with pytest.raises(GraphError, match="needs a CoMapFunction"):
        CoMapOperator(lambda v: v)  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="needs a CoFlatMapFunction"):
        CoFlatMapOperator(Tag())  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="needs a CoProcessFunction"):
        CoProcessOperator(Tag())  # type: ignore[arg-type]


class TimerAt(KeyedCoProcessFunction[tuple[str, int], tuple[str, int], Any]):
    """Registers an event-time timer at the value's second field, from either input."""

    def process_element1(self, value: tuple[str, int], ctx: Any, out: Any) -> None:
        ctx.timer_service().register_event_time_timer(value[1])

    def process_element2(self, value: tuple[str, int], ctx: Any, out: Any) -> None:
        ctx.timer_service().register_event_time_timer(value[1])

    def on_timer(self, timestamp: int, ctx: Any, out: Any) -> None:
        out.collect(("timer", ctx.get_current_key(), timestamp))


def keyed_harness(function: Any) -> TwoInputOperatorHarness:
    return TwoInputOperatorHarness(
        CoProcessOperator(function),
        key_selector1=lambda v: v[0],
        key_selector2=lambda v: v[0],
    )


async def test_the_operators_watermark_is_the_minimum_of_its_inputs() -> None:
    harness = await keyed_harness(TimerAt()).open()
    harness.process_element1(("a", 7))
    harness.process_element2(("b", 15))
    harness.process_watermark1(10)  # the second input is still at MIN: nothing moves
    assert harness.emitted == []
    assert harness.operator.input_watermarks == (10, MIN_WATERMARK)  # type: ignore[attr-defined]
    harness.process_watermark2(5)
    assert [Watermark(5)] == harness.emitted
    harness.process_watermark2(20)  # min(10, 20): the timer at 7 fires before watermark 10
    assert [Watermark(5), StreamRecord(("timer", "a", 7), 7), Watermark(10)] == harness.emitted
    harness.process_watermark1(30)  # min(30, 20)
    assert [
        Watermark(5),
        StreamRecord(("timer", "a", 7), 7),
        Watermark(10),
        StreamRecord(("timer", "b", 15), 15),
        Watermark(20),
    ] == harness.emitted


async def test_an_idle_input_does_not_hold_back_the_other() -> None:
    harness = await keyed_harness(TimerAt()).open()
    harness.process_watermark1(10)
    harness.process_watermark_status2(WatermarkStatus.IDLE)  # releases input 1's watermark
    harness.process_watermark1(12)
    harness.process_watermark_status1(WatermarkStatus.IDLE)  # both idle: the operator is idle
    harness.process_watermark_status2(WatermarkStatus.ACTIVE)
    harness.process_watermark2(11)  # the active input alone, behind the operator: no change
    harness.process_watermark2(13)
    assert [
        Watermark(10),
        Watermark(12),
        WatermarkStatus.IDLE,
        WatermarkStatus.ACTIVE,
        Watermark(13),
    ] == harness.emitted


class Shared(KeyedCoProcessFunction[tuple[str, int], tuple[str, str], Any]):
    """Orders (input 1) wait for their key's payment (input 2) in shared keyed state."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.order: ValueState[int] = runtime_context.get_state("order")
        self.paid: ValueState[str] = runtime_context.get_state("paid")

    def process_element1(self, value: tuple[str, int], ctx: Any, out: Any) -> None:
        payment = self.paid.value()
        if payment is None:
            self.order.update(value[1])
            ctx.timer_service().register_event_time_timer(ctx.timestamp() + 100)
        else:
            out.collect((ctx.get_current_key(), value[1], payment))

    def process_element2(self, value: tuple[str, str], ctx: Any, out: Any) -> None:
        amount = self.order.value()
        if amount is None:
            self.paid.update(value[1])
        else:
            out.collect((ctx.get_current_key(), amount, value[1]))
            self.order.clear()

    def on_timer(self, timestamp: int, ctx: Any, out: Any) -> None:
        if self.order.value() is not None:
            ctx.output(UNPAID, (ctx.get_current_key(), self.order.value()))
            self.order.clear()


UNPAID: OutputTag[tuple[str, int]] = OutputTag("unpaid")


async def test_keyed_co_process_shares_state_and_timers_between_inputs() -> None:
    harness = await keyed_harness(Shared()).open()
    harness.process_element1(("a", 10), 1)
    harness.process_element1(("b", 20), 2)
    harness.process_element2(("c", "card"), 3)
    harness.process_element2(("a", "cash"), 4)  # joins the order of "a" waiting in state
    harness.process_element1(("c", 30), 5)  # joins the payment of "c" waiting in state
    harness.process_watermark1(200)
    harness.process_watermark2(200)  # the timer of "b" (at 102) finds its order unpaid
    assert harness.values() == [("a", 10, "cash"), ("c", 30, "card")]
    assert harness.side_values(UNPAID) == [("b", 20)]
    assert harness.watermarks() == [200]


class PyFlinkForm(CoProcessFunction[Any, Any, Any]):
    """PyFlink's generator form: no ``out``; yields values and (tag, value) pairs."""

    def process_element1(self, value: Any, ctx: Any) -> Any:  # type: ignore[override]
        yield value[0]
        yield UNPAID, value[1]

    def process_element2(self, value: Any, ctx: Any) -> Any:  # type: ignore[override]
        yield value[1]


async def test_the_generator_form_is_accepted() -> None:
    harness = await TwoInputOperatorHarness(CoProcessOperator(PyFlinkForm())).open()
    harness.process_element1(("a", 1), 3)
    harness.process_element2((2, "b"), 4)
    assert [
        StreamRecord("a", 3),
        (UNPAID, StreamRecord(1, 3)),
        StreamRecord("b", 4),
    ] == harness.emitted


async def test_timers_need_keyed_inputs() -> None:
    class Timers(CoProcessFunction[Any, Any, Any]):
        def process_element1(self, value: Any, ctx: Any, out: Any) -> None:
            ctx.timer_service().register_event_time_timer(5)

        def process_element2(self, value: Any, ctx: Any, out: Any) -> None:
            pass

    harness = await TwoInputOperatorHarness(CoProcessOperator(Timers())).open()
    with pytest.raises(GraphError, match="timers need keyed inputs"):
        harness.process_element1(1)


RULES = MapStateDescriptor("rules")
OTHER = MapStateDescriptor("other")


class Rules(BroadcastProcessFunction[int, tuple[str, int], Any]):
    def process_element(self, value: int, ctx: Any, out: Any) -> None:
        state = ctx.get_broadcast_state(RULES)
        out.collect((value, sorted(state.items())))

    def process_broadcast_element(self, value: tuple[str, int], ctx: Any, out: Any) -> None:
        ctx.get_broadcast_state(RULES).put(*value)


async def test_broadcast_state_is_written_by_the_broadcast_side_and_read_by_the_other() -> None:
    harness = await TwoInputOperatorHarness(CoBroadcastProcessOperator(Rules(), (RULES,))).open()
    harness.process_element1(1)
    harness.process_element2(("x", 1))
    harness.process_element2(("y", 2))
    harness.process_element1(2)
    assert harness.values() == [(1, []), (2, [("x", 1), ("y", 2)])]
    snapshot = harness.operator.state_dict()
    assert snapshot == {"broadcast": {"rules": {"x": 1, "y": 2}}}

    restored: CoBroadcastProcessOperator[Any] = CoBroadcastProcessOperator(Rules(), (RULES,))
    again = TwoInputOperatorHarness(restored)
    restored.load_state_dict(snapshot)
    await again.open()
    again.process_element1(3)
    assert again.values() == [(3, [("x", 1), ("y", 2)])]


async def test_the_read_only_side_cannot_write_and_unknown_descriptors_are_named() -> None:
    class Writes(BroadcastProcessFunction[Any, Any, Any]):
        def process_element(self, value: Any, ctx: Any, out: Any) -> None:
            if value == "write":
                ctx.get_broadcast_state(RULES).put("k", 1)
            else:
                ctx.get_broadcast_state(OTHER)

        def process_broadcast_element(self, value: Any, ctx: Any, out: Any) -> None:
            pass

    harness = await TwoInputOperatorHarness(CoBroadcastProcessOperator(Writes(), (RULES,))).open()
    with pytest.raises(AttributeError, match="put"):
        harness.process_element1("write")
    with pytest.raises(GraphError, match=r"no broadcast state 'other'; broadcast\(\) was given"):
        harness.process_element1("read")


class CountPerKey(KeyedBroadcastProcessFunction[tuple[str, int], str, Any]):
    """Keyed state per key; a broadcast "reset" clears every key's count."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count: ValueState[int] = runtime_context.get_state("count")

    def process_element(self, value: tuple[str, int], ctx: Any, out: Any) -> None:
        self.count.update((self.count.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(value[1])
        out.collect((ctx.get_current_key(), self.count.value()))

    def process_broadcast_element(self, value: str, ctx: Any, out: Any) -> None:
        seen: list[Any] = []
        ctx.apply_to_keyed_state(
            ValueStateDescriptor("count"), lambda key, state: seen.append((key, state.value()))
        )
        ctx.apply_to_keyed_state(ValueStateDescriptor("count"), lambda key, state: state.clear())
        out.collect(("reset", sorted(seen)))

    def on_timer(self, timestamp: int, ctx: Any, out: Any) -> None:
        out.collect(("timer", ctx.get_current_key(), timestamp))


async def test_keyed_broadcast_applies_to_every_keys_state_and_fires_timers() -> None:
    harness = await TwoInputOperatorHarness(
        CoBroadcastProcessOperator(CountPerKey(), (RULES,)), key_selector1=lambda v: v[0]
    ).open()
    harness.process_element1(("a", 5))
    harness.process_element1(("a", 6))
    harness.process_element1(("b", 7))
    harness.process_element2("reset")
    harness.process_element1(("a", 8))
    harness.process_watermark2(100)
    harness.process_watermark1(6)
    assert harness.values() == [
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("reset", [("a", 2), ("b", 1)]),
        ("a", 1),
        ("timer", "a", 5),
        ("timer", "a", 6),
    ]


async def test_the_broadcast_side_has_no_timers() -> None:
    class TimerOnRule(KeyedBroadcastProcessFunction[Any, Any, Any]):
        def process_element(self, value: Any, ctx: Any, out: Any) -> None:
            pass

        def process_broadcast_element(self, value: Any, ctx: Any, out: Any) -> None:
            ctx.timer_service().register_event_time_timer(5)

    harness = await TwoInputOperatorHarness(
        CoBroadcastProcessOperator(TimerOnRule(), (RULES,)), key_selector1=lambda v: v
    ).open()
    with pytest.raises(GraphError, match="process_broadcast_element has no timer service"):
        harness.process_element2("rule")


def test_broadcast_state_views() -> None:
    entries: dict[str, int] = {}
    state = BroadcastState(entries)
    view = ReadOnlyBroadcastState(entries)
    assert view.is_empty()
    state.put_all({"a": 1, "b": 2})
    state.put("c", 3)
    state.remove("b")
    state.remove("missing")
    assert (list(view), list(view.keys()), list(view.values())) == (["a", "c"], ["a", "c"], [1, 3])
    assert (len(view), view.get("a"), view.get("b", 0), view.contains("c")) == (2, 1, 0, True)
    state.clear()
    assert len(view) == 0
    assert not hasattr(view, "put")


class ProcessingTimeout(KeyedCoProcessFunction[Any, Any, Any]):
    def process_element1(self, value: Any, ctx: Any, out: Any) -> None:
        now = ctx.timer_service().current_processing_time()
        ctx.timer_service().register_processing_time_timer(now + 10)

    def process_element2(self, value: Any, ctx: Any, out: Any) -> None:
        now = ctx.timer_service().current_processing_time()
        ctx.timer_service().delete_processing_time_timer(now + 10)

    def on_timer(self, timestamp: int, ctx: Any, out: Any) -> None:
        out.collect((ctx.get_current_key(), timestamp, ctx.timestamp()))


async def test_processing_time_timers_of_either_input_share_the_key() -> None:
    harness = await keyed_harness(ProcessingTimeout()).open()
    harness.advance_processing_time(100)
    harness.process_element1(("a",), 1)
    harness.process_element1(("b",), 2)
    harness.process_element2(("b",), 3)  # deletes b's timer: the same key, from input 2
    harness.advance_processing_time(110)
    assert [StreamRecord(("a", 110, 110))] == harness.emitted
