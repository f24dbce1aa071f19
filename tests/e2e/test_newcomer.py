"""What a newcomer runs into first: each misuse gets one precise message, at any parallelism."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from streamrt import (
    FAILED_RECORDS,
    GraphError,
    KeyedProcessFunction,
    OperatorError,
    OutputTag,
    ProcessFunction,
    StreamExecutionEnvironment,
)
from streamrt.connectors.print_sink import PrintSink
from streamrt.testing import CollectSink
from tests.conftest import bounded

UNHASHABLE = "key {'user': 'a'} of type dict is not hashable; keyed state needs hashable keys"


class _Echo(ProcessFunction[Any, Any]):
    def process_element(self, value: Any, ctx: Any, out: Any) -> None:
        out.collect(value)


@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize("downstream", ["reduce", "process"])
async def test_an_unhashable_key_is_the_same_error_at_every_parallelism(
    parallelism: int, downstream: str
) -> None:
    env = StreamExecutionEnvironment(parallelism=parallelism)
    keyed = env.from_collection([{"user": "a"}, {"user": "b"}]).key_by(lambda v: v)
    stream = keyed.reduce(lambda a, b: b) if downstream == "reduce" else keyed.process(_Echo())
    stream.sink_to(CollectSink())
    with pytest.raises(OperatorError) as info:
        await bounded(env.execute_async("unhashable"))
    assert UNHASHABLE in str(info.value)
    assert "RecordError" in str(info.value)


async def test_executing_an_executed_pipeline_again_says_so() -> None:
    env = StreamExecutionEnvironment()
    sink: CollectSink[int] = CollectSink()
    numbers = env.from_collection([1, 2])
    numbers.sink_to(sink)
    await bounded(env.execute_async("first"))
    assert sink.values == [1, 2]
    with pytest.raises(GraphError, match="pipeline was already executed \\(job 'first'\\)"):
        await env.execute_async("second")
    with pytest.raises(GraphError, match="this stream belongs to a pipeline that was already"):
        numbers.print()


@pytest.mark.parametrize(
    ("identifier", "parallelism", "expected"),
    [
        ("", 1, ["1", "2"]),
        ("out", 1, ["out> 1", "out> 2"]),
        ("", 2, ["1> 1", "2> 2"]),
        ("out", 2, ["out:1> 1", "out:2> 2"]),
    ],
)
async def test_print_prefixes_lines_as_pyflink(
    identifier: str, parallelism: int, expected: list[str]
) -> None:
    stream = io.StringIO()
    env = StreamExecutionEnvironment(parallelism=parallelism)
    env.from_collection([1, 2]).sink_to(PrintSink(identifier, stream))
    await bounded(env.execute_async("print"))
    assert sorted(stream.getvalue().splitlines()) == expected


def test_on_error_is_refused_where_no_user_function_runs() -> None:
    env = StreamExecutionEnvironment()
    source = env.from_collection([1])
    with pytest.raises(GraphError, match="'Source: Collection Source' does not"):
        source.on_error("skip")


def test_on_error_on_the_watermark_assigner_is_refused() -> None:
    from streamrt import WatermarkStrategy

    env = StreamExecutionEnvironment()
    stamped = env.from_collection([1]).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, _: v)
    )
    with pytest.raises(GraphError, match="'Timestamps/Watermarks' does not"):
        stamped.on_error("skip")


async def test_subtasks_are_shown_one_based_and_kept_zero_based(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = StreamExecutionEnvironment(parallelism=2)
    failed: CollectSink[Any] = CollectSink()
    mapped = env.from_collection([0, 0]).map(lambda v: 1 // v).name("invert")
    mapped.on_error("side_output").get_side_output(FAILED_RECORDS).sink_to(failed)
    mapped.sink_to(CollectSink())
    with caplog.at_level(logging.WARNING, logger="operators.base"):
        await bounded(env.execute_async("numbers"))
    assert sorted(f.subtask for f in failed.values) == [0, 1]  # data: the 0-based index
    logged = sorted(r.getMessage().split(" diverted")[0] for r in caplog.records)
    assert logged == ["operator 'invert' (subtask 1/2)", "operator 'invert' (subtask 2/2)"]


class _PyFlinkStyle(KeyedProcessFunction[Any, Any]):
    """PyFlink's generator form: process_element(value, ctx) and on_timer(ts, ctx) yield."""

    def open(self, runtime_context: Any) -> None:
        self.count = runtime_context.get_state("count", 0)

    def process_element(self, value: Any, ctx: Any) -> Any:  # type: ignore[override]
        self.count.update(self.count.value() + 1)
        if value["amount"] < 0:
            yield REFUNDS, value["amount"]
        yield (ctx.get_current_key(), value["amount"])
        ctx.timer_service().register_event_time_timer(100)

    def on_timer(self, timestamp: int, ctx: Any) -> Any:  # type: ignore[override]
        yield f"{ctx.get_current_key()}: {self.count.value()} at {timestamp}"


REFUNDS: OutputTag[int] = OutputTag("refunds")


@pytest.mark.parametrize("parallelism", [1, 2])
async def test_pyflink_generator_process_functions_run_unchanged(parallelism: int) -> None:
    env = StreamExecutionEnvironment(parallelism=parallelism)
    main: CollectSink[Any] = CollectSink()
    refunds: CollectSink[int] = CollectSink()
    orders = [{"user": "a", "amount": 5}, {"user": "b", "amount": -2}, {"user": "a", "amount": 1}]
    processed = env.from_collection(orders).key_by(lambda o: o["user"]).process(_PyFlinkStyle())
    processed.sink_to(main)
    processed.get_side_output(REFUNDS).sink_to(refunds)
    await bounded(env.execute_async("pyflink style"))
    values = main.values
    assert sorted(v for v in values if isinstance(v, tuple)) == [("a", 1), ("a", 5), ("b", -2)]
    fired = sorted(v for v in values if isinstance(v, str))
    assert fired == ["a: 2 at 100", "b: 1 at 100"]
    assert refunds.values == [-2]
