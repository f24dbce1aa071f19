"""Functions copied from PyFlink's documentation run with only their imports changed.

Each class below is PyFlink's documentation code as published; only the ``from pyflink...``
imports became ``from streamrt...`` imports. The pipelines around them use streamrt's API.
"""

# the docs' code is untyped, as PyFlink code is:
# mypy: disable-error-code="no-untyped-def, no-untyped-call, override"
# mypy: disable-error-code="type-arg, union-attr, var-annotated"
# ruff: noqa: UP037
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from operators.process import ProcessOperator
from streamrt import (
    FlatMapFunction,
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    Row,
    RuntimeContext,
    StateTtlConfig,
    StreamExecutionEnvironment,
    Time,
    TimeDomain,
    Types,
    ValueStateDescriptor,
    WatermarkStrategy,
)
from streamrt.testing import CollectSink, OperatorHarness

EnvFactory = Callable[..., StreamExecutionEnvironment]


# The docs' code, as published (not reformatted):
# fmt: off
# -- docs/dev/datastream/operators/process_function (Python tab), unchanged ------------------
class CountWithTimeoutFunction(KeyedProcessFunction):

    def __init__(self):
        self.state = None

    def open(self, runtime_context: RuntimeContext):
        self.state = runtime_context.get_state(ValueStateDescriptor(
            "my_state", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, value, ctx: 'KeyedProcessFunction.Context'):
        # retrieve the current count
        current = self.state.value()
        if current is None:
            current = Row(value.f1, 0, 0)

        # update the state's count
        current[1] += 1

        # set the state's timestamp to the record's assigned event time timestamp
        current[2] = ctx.timestamp()

        # write the state back
        self.state.update(current)

        # schedule the next timer 60 seconds from the current event time
        ctx.timer_service().register_event_time_timer(current[2] + 60000)

    def on_timer(self, timestamp: int, ctx: 'KeyedProcessFunction.OnTimerContext'):
        # get the state for the key that scheduled the timer
        result = self.state.value()

        # check if this is an outdated timer or the latest timer
        if timestamp == result[2] + 60000:
            # emit the state on timeout
            yield result[0], result[1]


# -- docs/dev/datastream/fault-tolerance/state ("Using Keyed State", Python tab), unchanged ---
class CountWindowAverage(FlatMapFunction):

    def __init__(self):
        self.sum = None

    def open(self, runtime_context: RuntimeContext):
        descriptor = ValueStateDescriptor(
            "average",  # the state name
            Types.PICKLED_BYTE_ARRAY()  # type information
        )
        self.sum = runtime_context.get_state(descriptor)

    def flat_map(self, value):
        # access the state value
        current_sum = self.sum.value()
        if current_sum is None:
            current_sum = (0, 0)

        # update the count
        current_sum = (current_sum[0] + 1, current_sum[1] + value[1])

        # update the state
        self.sum.update(current_sum)

        # if the count reaches 2, emit the average and clear the state
        if current_sum[0] >= 2:
            self.sum.clear()
            yield value[0], int(current_sum[1] / current_sum[0])


# -- docs/dev/datastream/side_output (Python tab), unchanged -----------------------------------
output_tag = OutputTag("side-output", Types.STRING())

class MyProcessFunction(ProcessFunction):

    def process_element(self, value: int, ctx: ProcessFunction.Context):
        # emit data to regular output
        yield value

        # emit data to side output
        yield output_tag, "sideout-" + str(value)


# -- docs/dev/datastream/fault-tolerance/state ("State Time-To-Live", Python tab), unchanged ---
ttl_config = StateTtlConfig \
  .new_builder(Time.seconds(1)) \
  .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite) \
  .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired) \
  .build()

state_descriptor = ValueStateDescriptor("text state", Types.STRING())
state_descriptor.enable_time_to_live(ttl_config)
# fmt: on


# -- the tests ---------------------------------------------------------------------------------
async def test_the_count_with_timeout_example(env_factory: EnvFactory) -> None:
    env = env_factory(parallelism=2)
    records = [  # (event time ms, key, payload), as the docs' ROW(f0, f1, f2)
        Row(f0=0, f1="a", f2="x"),
        Row(f0=5_000, f1="b", f2="y"),
        Row(f0=10_000, f1="a", f2="z"),
        Row(f0=100_000, f1="a", f2="w"),
    ]
    sink: CollectSink[Any] = CollectSink()
    watermarked_stream = (
        env.from_collection(records, type_info=Types.ROW([Types.LONG(), Types.STRING()]))
        .set_parallelism(1)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
                lambda value, record_timestamp: value.f0
            )
        )
    )
    watermarked_stream.key_by(lambda value: value[1]).process(CountWithTimeoutFunction()).sink_to(
        sink
    )
    await env.execute_async("count with timeout")
    # b's timer at 65 s finds b untouched; a's timers at 60 s and 70 s are outdated by its
    # record at 100 s; the final watermark fires a's timer at 160 s
    assert sorted(sink.values) == [("a", 3), ("b", 1)]


async def test_the_keyed_state_flat_map_example(env_factory: EnvFactory) -> None:
    env = env_factory(parallelism=2)
    sink: CollectSink[Any] = CollectSink()
    env.from_collection([(1, 3), (1, 5), (1, 7), (1, 4), (1, 2)]).set_parallelism(1).key_by(
        lambda row: row[0]
    ).flat_map(CountWindowAverage()).sink_to(sink)
    await env.execute_async("average")
    # "the printed output will be (1,4) and (1,5)"
    assert sink.values == [(1, 4), (1, 5)]


async def test_the_side_output_example(env_factory: EnvFactory) -> None:
    env = env_factory(parallelism=1)
    main: CollectSink[Any] = CollectSink()
    side: CollectSink[Any] = CollectSink()
    input = env.from_collection([1, 2, 3])
    main_data_stream = input.process(MyProcessFunction(), Types.INT())
    side_output_stream = main_data_stream.get_side_output(output_tag)
    main_data_stream.sink_to(main)
    side_output_stream.sink_to(side)
    await env.execute_async("side outputs")
    assert main.values == [1, 2, 3]
    assert side.values == ["sideout-1", "sideout-2", "sideout-3"]


class LastText(KeyedProcessFunction):
    """Yields the key's previous text (``None`` once it expired), then stores the new one."""

    def open(self, runtime_context):
        self.text = runtime_context.get_state(state_descriptor)

    def process_element(self, value, ctx):
        yield ctx.get_current_key(), self.text.value()
        self.text.update(value)


async def test_the_state_ttl_example_expires_after_one_second() -> None:
    harness = await OperatorHarness(ProcessOperator(LastText()), key_selector=len).open()
    harness.process_element("one")
    harness.advance_processing_time(999)
    harness.process_element("two")  # written at 0: still there
    harness.advance_processing_time(1_998)
    harness.process_element("six")  # "two" was written at 999: still there at 1998
    harness.advance_processing_time(2_998)
    harness.process_element("ten")  # "six" was written at 1998: expired at 2998
    assert harness.values() == [(3, None), (3, "one"), (3, "two"), (3, None)]


class Timers(KeyedProcessFunction):
    """PyFlink's generator form; on_timer reports its key and time domain."""

    def process_element(self, value, ctx):
        ctx.timer_service().register_event_time_timer(value[1])
        ctx.timer_service().register_processing_time_timer(value[1] + 1)
        return []

    def on_timer(self, timestamp, ctx):
        yield ctx.get_current_key(), ctx.time_domain(), timestamp, ctx.timestamp()


async def test_on_timer_knows_its_key_and_time_domain() -> None:
    harness = await OperatorHarness(ProcessOperator(Timers()), key_selector=lambda v: v[0]).open()
    harness.process_element(("a", 10))
    harness.process_element(("b", 20))
    harness.process_watermark(15)
    harness.advance_processing_time(21)
    harness.process_watermark(30)
    assert harness.values() == [
        ("a", TimeDomain.EVENT_TIME, 10, 10),
        ("a", TimeDomain.PROCESSING_TIME, 11, 11),
        ("b", TimeDomain.PROCESSING_TIME, 21, 21),
        ("b", TimeDomain.EVENT_TIME, 20, 20),
    ]
