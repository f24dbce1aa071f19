"""Operators one at a time, through the harness: exact emits, timers, watermarks."""

from __future__ import annotations

from typing import Any

import pytest

from operators import (
    FlatMapOperator,
    ProcessOperator,
    ReduceOperator,
    TimestampsAndWatermarksOperator,
)
from streamrt import GraphError, KeyedProcessFunction, OutputTag, RecordError, WatermarkStrategy
from streamrt.functions import ProcessFunction, RuntimeContext
from streamrt.runtime.elements import MAX_WATERMARK, StreamRecord, Watermark, WatermarkStatus
from streamrt.testing import OperatorHarness


async def test_reduce_is_rolling_per_key_with_flink_semantics() -> None:
    harness = await OperatorHarness(
        ReduceOperator(lambda a, b: (a[0], a[1] + b[1])), key_selector=lambda v: v[0]
    ).open()
    for value in [("a", 1), ("b", 10), ("a", 2), ("a", 3), ("b", 20)]:
        harness.process_element(value, timestamp=7)
    assert harness.values() == [("a", 1), ("b", 10), ("a", 3), ("a", 6), ("b", 30)]
    assert all(r.timestamp == 7 for r in harness.emitted)
    assert harness.operator.state_dict()["keyed"]["tables"]["reduce"] == {
        "a": ("a", 6),
        "b": ("b", 30),
    }


async def test_reduce_state_round_trips_through_state_dict() -> None:
    first = await OperatorHarness(ReduceOperator(lambda a, b: a + b), key_selector=str).open()
    first.process_elements([1, 1, 2])
    restored = OperatorHarness(ReduceOperator(lambda a, b: a + b), key_selector=str)
    restored.operator.load_state_dict(first.operator.state_dict())
    await restored.open()
    restored.process_elements([1, 2])
    assert restored.values() == [3, 4]


class Sessions(KeyedProcessFunction[tuple[str, int], str]):
    """Counts per key; an event-time timer 10 ms after each element reports the count."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state("count", 0)

    def process_element(self, value: Any, ctx: ProcessFunction.Context, out: Any) -> None:
        self.count.update((self.count.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer((ctx.timestamp() or 0) + 10)

    def on_timer(self, timestamp: int, ctx: ProcessFunction.Context, out: Any) -> None:
        watermark = ctx.timer_service().current_watermark()
        out.collect(f"{ctx.get_current_key()}@{timestamp} n={self.count.value()} wm={watermark}")


async def test_event_time_timers_fire_in_order_before_the_watermark_is_forwarded() -> None:
    harness = await OperatorHarness(ProcessOperator(Sessions()), key_selector=lambda v: v[0]).open()
    harness.process_element(("a", 0), timestamp=100)
    harness.process_element(("b", 0), timestamp=105)
    harness.process_element(("a", 0), timestamp=100)  # same timer (a, 110): deduplicated
    harness.process_watermark(109)
    harness.process_watermark(115)
    harness.process_watermark(MAX_WATERMARK)
    assert harness.emitted == [
        Watermark(109),
        StreamRecord("a@110 n=2 wm=115", 110),
        StreamRecord("b@115 n=1 wm=115", 115),
        Watermark(115),
        Watermark(MAX_WATERMARK),
    ]


async def test_processing_time_timers_fire_when_processing_time_advances() -> None:
    class Reminder(KeyedProcessFunction[str, str]):
        def process_element(self, value: str, ctx: Any, out: Any) -> None:
            now = ctx.timer_service().current_processing_time()
            ctx.timer_service().register_processing_time_timer(now + 1_000)

        def on_timer(self, timestamp: int, ctx: Any, out: Any) -> None:
            out.collect(f"{ctx.get_current_key()} at {timestamp}")

    harness: OperatorHarness[str] = await OperatorHarness(
        ProcessOperator(Reminder()), key_selector=str
    ).open()
    harness.processing_time.advance_to(5_000)
    harness.process_element("x")
    harness.advance_processing_time(5_999)
    assert harness.values() == []
    harness.advance_processing_time(6_000)
    assert harness.values() == ["x at 6000"]
    assert harness.emitted[0].timestamp is None  # processing-time emits carry no event time


async def test_timers_on_a_non_keyed_stream_are_a_clear_error() -> None:
    def register(value: Any, ctx: Any, out: Any) -> None:
        ctx.timer_service().register_event_time_timer(5)

    harness: OperatorHarness[int] = await OperatorHarness(
        ProcessOperator(register), name="no keys"
    ).open()
    with pytest.raises(GraphError, match="timers need a keyed stream; operator 'no keys'"):
        harness.process_element(1)


async def test_side_outputs_carry_the_element_timestamp() -> None:
    late = OutputTag[int]("late")

    def route(value: int, ctx: Any, out: Any) -> None:
        if value < 0:
            ctx.output(late, value)
        else:
            out.collect(value)

    harness: OperatorHarness[int] = await OperatorHarness(ProcessOperator(route)).open()
    harness.process_element(1, timestamp=10)
    harness.process_element(-1, timestamp=11)
    assert harness.values() == [1]
    assert harness.side_values(late) == [-1]
    assert harness.emitted[1] == (late, StreamRecord(-1, 11))


async def test_flat_map_stamps_every_emit_with_the_input_timestamp() -> None:
    harness: OperatorHarness[Any] = await OperatorHarness(FlatMapOperator(range)).open()
    harness.process_element(3, timestamp=42)
    assert harness.emitted == [StreamRecord(0, 42), StreamRecord(1, 42), StreamRecord(2, 42)]


async def test_assign_timestamps_and_watermarks_owns_event_time() -> None:
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(5).with_timestamp_assigner(
        lambda value, ts: value["t"]
    )
    harness = OperatorHarness(TimestampsAndWatermarksOperator(strategy, interval_ms=200))
    await harness.open()
    harness.process_element({"t": 1_000}, timestamp=1)
    harness.process_element({"t": 1_020})
    harness.process_watermark(5_000)  # upstream watermarks are dropped...
    harness.operator.process_watermark_status(WatermarkStatus.IDLE)  # ...and so is idleness
    harness.advance_processing_time(200)  # the periodic emit
    harness.process_watermark(MAX_WATERMARK)  # ...except the end of input
    assert harness.emitted == [
        StreamRecord({"t": 1_000}, 1_000),
        StreamRecord({"t": 1_020}, 1_020),
        Watermark(1_014),
        Watermark(MAX_WATERMARK),
    ]


async def test_a_record_without_timestamp_and_no_assigner_is_a_clear_error() -> None:
    harness = OperatorHarness(
        TimestampsAndWatermarksOperator(WatermarkStrategy.for_monotonous_timestamps())
    )
    await harness.open()
    with pytest.raises(RecordError, match="record has no timestamp"):
        harness.process_element("no time")
