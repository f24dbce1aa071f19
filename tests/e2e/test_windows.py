"""Windowed jobs end to end: the API, checkpoint mid-window and restore, window_all, joins."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import MetricsServer
from streamrt import (
    AggregateFunction,
    CoGroupFunction,
    DataStream,
    EventTimeSessionWindows,
    GraphError,
    JoinFunction,
    OutputTag,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    SlidingEventTimeWindows,
    StreamExecutionEnvironment,
    Time,
    TimeWindow,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
    WatermarkGenerator,
    WatermarkStrategy,
)
from streamrt.runtime.elements import MAX_WATERMARK, MIN_WATERMARK, Watermark
from streamrt.testing import CollectSink, GatedSource, ListSource
from tests.conftest import bounded, cancel_and_expect_cancelled, wait_until
from tests.e2e.test_metrics_endpoints import by_operator, get, samples

BOUND = 20  # out-of-orderness of the generated timestamps


class Punctuated(WatermarkGenerator):
    """A watermark after every record: max timestamp - BOUND - 1 (deterministic event time)."""

    def __init__(self) -> None:
        self.max_ts = MIN_WATERMARK

    def on_event(self, event: Any, timestamp: int, output: Any) -> None:
        self.max_ts = max(self.max_ts, timestamp)
        output.emit_watermark(Watermark(self.max_ts - BOUND - 1))


STRATEGY = WatermarkStrategy.for_generator(Punctuated).with_timestamp_assigner(
    lambda event, _: event[2]
)


def events(count: int) -> list[tuple[str, int, int]]:
    """(key, value, timestamp): 4 keys, timestamps rising by 7 with jitter < BOUND."""
    return [(f"k{i % 4}", i % 10, i * 7 - (i * 13) % BOUND) for i in range(count)]


class CountSum(AggregateFunction[Any, tuple[int, int], tuple[int, int]]):
    def create_accumulator(self) -> tuple[int, int]:
        return (0, 0)

    def add(self, value: Any, accumulator: tuple[int, int]) -> tuple[int, int]:
        return (accumulator[0] + 1, accumulator[1] + value[1])

    def get_result(self, accumulator: tuple[int, int]) -> tuple[int, int]:
        return accumulator

    def merge(self, acc_a: tuple[int, int], acc_b: tuple[int, int]) -> tuple[int, int]:
        return (acc_a[0] + acc_b[0], acc_a[1] + acc_b[1])


class Labelled(ProcessWindowFunction[Any, Any, str, TimeWindow]):
    """PyFlink's form, yielding: key, window bounds and each element."""

    def process(
        self, key: str, context: ProcessWindowFunction.Context[TimeWindow], elements: Iterable[Any]
    ) -> Iterable[Any]:
        window = context.window()
        for element in elements:
            yield key, window.start, window.end, element


def pipelines() -> dict[str, Callable[[DataStream[Any]], DataStream[Any]]]:
    return {
        "tumbling-aggregate": lambda s: (
            s.key_by(lambda e: e[0])
            .window(TumblingEventTimeWindows.of(50))
            .aggregate(CountSum(), Labelled())
        ),
        "sliding-reduce": lambda s: (
            s.key_by(lambda e: e[0])
            .window(SlidingEventTimeWindows.of(60, 20))
            .reduce(lambda a, b: (a[0], a[1] + b[1], max(a[2], b[2])))
        ),
        "sessions-process": lambda s: (
            s.filter(lambda e: e[2] % 100 < 60)
            .key_by(lambda e: e[0])
            .window(EventTimeSessionWindows.with_gap(30))
            .process(Labelled())
        ),
    }


def build(
    env: StreamExecutionEnvironment,
    source: ListSource[Any],
    pipeline: str,
    sink: CollectSink[Any],
    parallelism: int,
    seen: list[int] | None = None,
) -> None:
    stream = env.from_source(source, STRATEGY, "events").uid("events").set_parallelism(1)
    if seen is not None:  # counts what the source has handed on (a test hook)

        def count(event: Any) -> Any:
            seen.append(1)
            return event

        stream = stream.map(count).name("seen")
    windowed = pipelines()[pipeline](stream).uid("windows").set_parallelism(parallelism)
    windowed.sink_to(sink).name("out").uid("out").set_parallelism(1)


COUNT = 400
AT = 230  # the checkpoint is taken with the source held here


@pytest.mark.parametrize("pipeline", sorted(pipelines()))
@pytest.mark.parametrize("parallelisms", [(1, 1), (2, 3), (3, 1)])
async def test_a_checkpoint_mid_window_restores_to_the_uninterrupted_results(
    pipeline: str, parallelisms: tuple[int, int]
) -> None:
    before, after = parallelisms
    data = events(COUNT)
    env = StreamExecutionEnvironment(buffer_timeout_ms=5)
    uninterrupted: CollectSink[Any] = CollectSink()
    build(env, ListSource(data), pipeline, uninterrupted, before)
    await bounded(env.execute_async("uninterrupted"))
    expected = sorted(uninterrupted.records)
    # what has fired once the source stopped at AT: windows ending at or before its watermark
    watermark = max(e[2] for e in data[:AT]) - BOUND - 1
    fired = sorted(r for r in expected if r[1] is not None and r[1] <= watermark)
    assert 0 < len(fired) < len(expected)  # the checkpoint is mid-stream, windows are open

    env1 = StreamExecutionEnvironment(buffer_timeout_ms=5)
    env1.enable_checkpointing(3_600_000)
    gate = GatedSource(data, AT)
    first: CollectSink[Any] = CollectSink()
    seen: list[int] = []
    build(env1, gate, pipeline, first, before, seen)
    job = env1.create_job("first")
    running = asyncio.create_task(job.run())
    await wait_until(lambda: len(seen) == AT, what="the source at the gate")
    checkpoint = await bounded(job.checkpoint())
    await first.wait_for(len(fired))
    await cancel_and_expect_cancelled((job, running))
    assert fired == sorted(first.records)
    state = checkpoint.operator_states("windows")
    assert len(state) == before
    assert any(s["keyed"]["tables"]["window-contents"] for s in state)  # open windows

    env2 = StreamExecutionEnvironment(buffer_timeout_ms=5)
    second: CollectSink[Any] = CollectSink()
    build(env2, ListSource(data), pipeline, second, after)
    await bounded(env2.create_job("second", restore_from=checkpoint).run())
    assert sorted(second.records) == sorted(set(expected) - set(fired))
    assert len(second.records) == len(expected) - len(fired)


def test_results_carry_the_window_end_and_late_data_goes_to_its_side_output() -> None:
    env = StreamExecutionEnvironment()
    late = OutputTag[Any]("late")
    data = [("a", 1, 5), ("a", 2, 40), ("a", 3, 8), ("b", 4, 12), ("a", 5, 100)]
    # one record per batch: the watermark after each record is in force for the next
    source = env.from_source(ListSource(data, batch_size=1), STRATEGY, "events")
    counted = (
        source.key_by(lambda e: e[0])
        .window(TumblingEventTimeWindows.of(10))
        .side_output_late_data(late)
        .aggregate(CountSum())
    )
    main: CollectSink[Any] = CollectSink()
    side: CollectSink[Any] = CollectSink()
    counted.sink_to(main).set_parallelism(1)
    counted.get_side_output(late).sink_to(side).set_parallelism(1)
    env.execute("late")
    # watermark 40 - 21 = 19 after ("a", 2, 40): ("a", 3, 8) and ("b", 4, 12) are too late
    assert main.records == [((1, 1), 9), ((1, 2), 49), ((1, 5), 109)]
    assert side.records == [(("a", 3, 8), 8), (("b", 4, 12), 12)]


async def test_late_records_without_a_side_output_are_dropped_and_scraped_as_counted() -> None:
    env = StreamExecutionEnvironment()
    data = [("a", 1, 5), ("a", 2, 40), ("a", 3, 8), ("b", 4, 12), ("a", 5, 100)]
    source = env.from_source(ListSource(data, batch_size=1), STRATEGY, "events")
    main: CollectSink[Any] = CollectSink()
    (
        source.key_by(lambda e: e[0])
        .window(TumblingEventTimeWindows.of(10))
        .aggregate(CountSum())
        .name("count")
        .sink_to(main)
    )
    job = env.create_job("late counted")
    async with MetricsServer(job, host="127.0.0.1", port=0) as server:
        await bounded(job.run())
        status, text = await get(f"{server.url}/metrics")
    assert status == 200
    assert main.records == [((1, 1), 9), ((1, 2), 49), ((1, 5), 109)]
    dropped = by_operator(samples(text, "streamrt_operator_late_records_dropped_total"))
    assert dropped["count"] == 2  # ("a", 3, 8) and ("b", 4, 12): behind watermark 19
    assert sum(dropped.values()) == 2


class Everything(ProcessAllWindowFunction[Any, Any, Any]):
    def process(self, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        return [(context.window().start, sorted(e[1] for e in elements))]


def test_window_all_runs_at_parallelism_one() -> None:
    env = StreamExecutionEnvironment(parallelism=3)
    data = [("a", i, i * 10) for i in range(10)]
    stream = env.from_source(ListSource(data), STRATEGY, "events").set_parallelism(1)
    result = stream.window_all(TumblingEventTimeWindows.of(40)).process(Everything())
    assert result._node is not None
    assert result._node.parallelism == 1
    assert result.execute_and_collect() == [(0, [0, 1, 2, 3]), (40, [4, 5, 6, 7]), (80, [8, 9])]


def test_count_windows_per_key_and_over_the_stream() -> None:
    env = StreamExecutionEnvironment(parallelism=2)
    data = [("ab"[i % 2], i) for i in range(10)]
    sink: CollectSink[Any] = CollectSink()
    env.from_collection(data).set_parallelism(1).key_by(lambda e: e[0]).count_window(3, 2).reduce(
        lambda a, b: (a[0], a[1] + b[1])
    ).sink_to(sink).set_parallelism(1)
    env.from_collection(range(7)).set_parallelism(1).count_window_all(3).reduce(
        lambda a, b: a + b
    ).sink_to(sink).set_parallelism(1)
    env.execute("counts")
    # per key: every 2nd element, the sum of the last 3 (a: 0 2 4 6 8, b: 1 3 5 7 9);
    # the stream: each full 3 (6 is left)
    assert sorted(v for v, _ in sink.records if isinstance(v, tuple)) == [
        ("a", 0 + 2),
        ("a", 2 + 4 + 6),
        ("b", 1 + 3),
        ("b", 3 + 5 + 7),
    ]
    assert sorted(v for v, _ in sink.records if isinstance(v, int)) == [3, 12]
    assert {ts for _, ts in sink.records} == {MAX_WATERMARK}


def test_window_configuration_errors_are_named() -> None:
    env = StreamExecutionEnvironment()
    keyed = env.from_collection([1]).key_by(lambda v: v)
    with pytest.raises(GraphError, match="window\\(\\) needs a WindowAssigner"):
        keyed.window(50)  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="allowed_lateness\\(\\) needs an int >= 0"):
        keyed.window(TumblingEventTimeWindows.of(5)).allowed_lateness(-1)
    with pytest.raises(GraphError, match="aggregate\\(\\) needs an AggregateFunction"):
        keyed.window(TumblingEventTimeWindows.of(5)).aggregate(lambda v: v)  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="the window function must be a ProcessWindowFunction"):
        keyed.window(TumblingEventTimeWindows.of(5)).process(42)
    with pytest.raises(GraphError, match="count_window\\(\\): slide must be a positive int"):
        keyed.count_window(3, 0)
    with pytest.raises(GraphError, match="call where\\(\\) before equal_to\\(\\)"):
        env.from_collection([1]).join(env.from_collection([2])).equal_to(lambda v: v)


# -- window join and co-group against nested loops --------------------------------------------
def windowed_join_reference(
    firsts: list[tuple[int, int, int]], seconds: list[tuple[int, int, int]], size: int
) -> list[tuple[Any, int]]:
    return sorted(
        ((a, b), a[2] // size * size + size - 1)
        for a, b in itertools.product(firsts, seconds)
        if a[0] == b[0] and a[2] // size == b[2] // size
    )


class Pair(JoinFunction[Any, Any, Any]):
    def join(self, first: Any, second: Any) -> Any:
        return (first, second)


class Counts(CoGroupFunction[Any, Any, Any]):
    def co_group(self, first: Iterable[Any], second: Iterable[Any]) -> Iterable[Any]:
        firsts, seconds = list(first), list(second)
        key = (firsts or seconds)[0][0]
        yield (key, len(firsts), len(seconds))


SIDE = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 99), st.integers(0, 200)), max_size=25)


def _sorted_by_time(values: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    return sorted(values, key=lambda v: v[2])


def _run_join(
    firsts: list[tuple[int, int, int]],
    seconds: list[tuple[int, int, int]],
    size: int,
    build_join: Callable[[DataStream[Any], DataStream[Any]], DataStream[Any]],
) -> list[tuple[Any, int | None]]:
    env = StreamExecutionEnvironment(parallelism=2)
    # monotonous per side, so nothing is late: a join's results are exact
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
        lambda e, _: e[2]
    )
    a = env.from_source(ListSource(_sorted_by_time(firsts)), strategy, "a").set_parallelism(1)
    b = env.from_source(ListSource(_sorted_by_time(seconds)), strategy, "b").set_parallelism(1)
    sink: CollectSink[Any] = CollectSink()
    build_join(a, b).sink_to(sink).set_parallelism(1)
    env.execute("join")
    return sorted(sink.records)


@settings(max_examples=12, deadline=None)
@given(firsts=SIDE, seconds=SIDE, size=st.integers(5, 60))
def test_window_join_equals_a_nested_loop(
    firsts: list[tuple[int, int, int]], seconds: list[tuple[int, int, int]], size: int
) -> None:
    got = _run_join(
        firsts,
        seconds,
        size,
        lambda a, b: (
            a.join(b)
            .where(lambda v: v[0])
            .equal_to(lambda v: v[0])
            .window(TumblingEventTimeWindows.of(size))
            .apply(Pair())
        ),
    )
    assert windowed_join_reference(firsts, seconds, size) == got


@settings(max_examples=12, deadline=None)
@given(firsts=SIDE, seconds=SIDE, size=st.integers(5, 60))
def test_window_co_group_equals_a_nested_loop(
    firsts: list[tuple[int, int, int]], seconds: list[tuple[int, int, int]], size: int
) -> None:
    got = _run_join(
        firsts,
        seconds,
        size,
        lambda a, b: (
            a.co_group(b)
            .where(lambda v: v[0])
            .equal_to(lambda v: v[0])
            .window(TumblingEventTimeWindows.of(size))
            .apply(Counts())
        ),
    )
    groups: dict[tuple[int, int], list[int]] = {}
    for side, values in enumerate((firsts, seconds)):
        for key, _, ts in values:
            groups.setdefault((key, ts // size), [0, 0])[side] += 1
    expected = sorted(
        ((key, n1, n2), window * size + size - 1) for (key, window), (n1, n2) in groups.items()
    )
    assert expected == got


# PyFlink's documentation example (window functions), with only its imports changed


class MyProcessWindowFunction(ProcessWindowFunction[tuple, str, str, TimeWindow]):  # type: ignore[type-arg]
    def process(
        self,
        key: str,
        context: ProcessWindowFunction.Context[TimeWindow],
        elements: Iterable[tuple],  # type: ignore[type-arg]
    ) -> Iterable[str]:
        count = 0
        for _ in elements:
            count += 1
        yield "Window: {} count: {}".format(context.window(), count)  # noqa: UP032


def test_a_process_window_function_from_pyflinks_docs_runs_unchanged() -> None:
    env = StreamExecutionEnvironment()
    data = [("a", 1, 1_000), ("b", 1, 2_000), ("a", 1, 290_000), ("a", 1, 310_000)]
    stream = env.from_source(ListSource(data), STRATEGY, "events")
    result = (
        stream.key_by(lambda v: v[0])
        .window(TumblingEventTimeWindows.of(Time.minutes(5)))
        .process(MyProcessWindowFunction(), None)
    )
    assert sorted(result.execute_and_collect()) == [
        "Window: TimeWindow(start=0, end=300000) count: 1",
        "Window: TimeWindow(start=0, end=300000) count: 2",
        "Window: TimeWindow(start=300000, end=600000) count: 1",
    ]


WINDOWS_DOC = Path(__file__).resolve().parents[2] / "docs" / "windows.md"


def doc_examples() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", WINDOWS_DOC.read_text(), re.S | re.M)


def test_the_windows_doc_has_its_examples() -> None:
    assert len(doc_examples()) == 5


@pytest.mark.parametrize("number", range(5))
def test_the_examples_in_the_windows_doc_run(number: int) -> None:
    namespace: dict[str, Any] = {"__name__": f"windows_doc_example_{number}"}
    exec(compile(doc_examples()[number], f"docs/windows.md example {number}", "exec"), namespace)


async def test_processing_time_windows_fire_on_the_wall_clock_in_a_running_job() -> None:
    env = StreamExecutionEnvironment(buffer_timeout_ms=5)
    data = [("ab"[i % 2], 1) for i in range(200)]
    gate = GatedSource(data, len(data) - 1)  # holds the input open: the windows must time out
    sink: CollectSink[Any] = CollectSink()
    (
        env.from_source(gate, source_name="events")
        .set_parallelism(1)
        .key_by(lambda e: e[0])
        .window(TumblingProcessingTimeWindows.of(50))
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .sink_to(sink)
        .set_parallelism(1)
    )
    job = env.create_job("processing time")
    running = asyncio.create_task(job.run())

    def counted() -> dict[str, int]:
        totals: dict[str, int] = {}
        for (key, count), _ in sink.records:
            totals[key] = totals.get(key, 0) + count
        return totals

    await wait_until(lambda: counted() == {"a": 100, "b": 99}, what="every record in a window")
    await cancel_and_expect_cancelled((job, running))
    assert all(ts is not None and ts % 50 == 49 for _, ts in sink.records)  # window ends
