"""Connected streams end to end: two-input tasks, co-functions, keyed co-process, the plan."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from streamrt import (
    MAX_WATERMARK,
    MIN_WATERMARK,
    CoFlatMapFunction,
    CoMapFunction,
    CoProcessFunction,
    DataStream,
    GraphError,
    KeyedCoProcessFunction,
    OperatorError,
    OutputTag,
    ProcessJoinFunction,
    StreamExecutionEnvironment,
    WatermarkGenerator,
    WatermarkStrategy,
)
from streamrt.functions import RuntimeContext
from streamrt.plan import render_plan
from streamrt.runtime.elements import Watermark
from streamrt.runtime.state import ValueState
from streamrt.runtime.two_input_task import TwoInputTask
from streamrt.testing import CollectSink, GatedSource, ListSource
from tests.conftest import bounded, wait_until
from tests.e2e.pyflink_functions import TAG, MyCoProcessFunction


class Label(CoMapFunction[int, str, str]):
    def map1(self, value: int) -> str:
        return f"int {value}"

    def map2(self, value: str) -> str:
        return f"str {value}"


class Words(CoFlatMapFunction[str, int, Any]):
    def flat_map1(self, value: str) -> Any:
        return value.split()

    def flat_map2(self, value: int) -> Any:
        return [value] * value


@pytest.mark.parametrize("parallelism", [1, 3])
def test_connect_map_and_flat_map_give_exact_outputs(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int
) -> None:
    env = env_factory(parallelism=parallelism)
    ints, strs = env.from_collection(range(5)), env.from_collection(["a", "b"])
    mapped = ints.connect(strs).map(Label()).execute_and_collect()
    assert sorted(mapped) == ["int 0", "int 1", "int 2", "int 3", "int 4", "str a", "str b"]

    env = env_factory(parallelism=parallelism)
    lines, counts = env.from_collection(["x y", "z"]), env.from_collection([1, 2, 3])
    flat = lines.connect(counts).flat_map(Words()).execute_and_collect()
    assert sorted(flat, key=str) == [1, 2, 2, 3, 3, 3, "x", "y", "z"]


class CountPerKey(CoMapFunction[str, str, tuple[str, int]]):
    """Numbers each key's records, from either input, in keyed state."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count: ValueState[int] = runtime_context.get_state("count")

    def bump(self, value: str) -> tuple[str, int]:
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        return value, n

    def map1(self, value: str) -> tuple[str, int]:
        return self.bump(value)

    def map2(self, value: str) -> tuple[str, int]:
        return self.bump(value)


@pytest.mark.parametrize("parallelism", [1, 3])
def test_keyed_co_map_keeps_state_per_key(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int
) -> None:
    env = env_factory(parallelism=parallelism)
    a, b = env.from_collection(["a", "a", "a", "c"]), env.from_collection(["b", "b", "c"])
    counted = (
        a.key_by(lambda v: v)
        .connect(b.key_by(lambda v: v))
        .map(CountPerKey())
        .execute_and_collect()
    )
    assert sorted(counted) == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("c", 1), ("c", 2)]


def test_a_two_input_operator_heads_its_chain_and_the_plan_shows_its_inputs(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    ints, strs = env.from_collection([1]), env.from_collection(["a"])
    ints.connect(strs).map(Label()).name("label").map(str.upper).name("upper").print()
    graph = env.get_job_graph("plan")
    head = next(v for v in graph.vertices if v.head.name == "label")
    assert [n.name for n in head.nodes] == ["label", "upper", "Print to Std. Out"]
    assert sorted(e.type_number for e in head.in_edges) == [1, 2]
    text = render_plan(graph)
    assert "[3] label (two inputs)  <- [1] of Task 1 via FORWARD, local, input 1, 2x2 " in text
    assert "[2] of Task 2 via FORWARD, local, input 2, 2x2 channels" in text
    assert [e["input"] for e in graph.describe()["edges"]] == [1, 2]


def test_a_co_process_function_written_for_pyflink_runs_unchanged(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    ds1 = env.from_collection([("a", 0), ("b", 1), ("c", 2)])
    ds2 = env.from_collection([(3, "c"), (1, "a"), (0, "d")])
    ds3 = ds1.connect(ds2).process(MyCoProcessFunction(), output_type=None)
    main: CollectSink[str] = CollectSink()
    side: CollectSink[int] = CollectSink()
    ds3.sink_to(main)
    ds3.get_side_output(TAG).sink_to(side)
    env.execute("test_co_process_side_output")
    assert sorted(main.values) == ["a", "a", "b", "c", "c", "d"]
    assert sorted(side.values) == [0, 0, 1, 1, 2, 3]


class OrderPayments(KeyedCoProcessFunction[tuple[str, int, int], tuple[str, str, int], Any]):
    """Orders wait in keyed state for their payment (either may come first); a timer 50 ms
    after an order reports it unpaid if no payment came by then."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.order: ValueState[int] = runtime_context.get_state("order")
        self.payment: ValueState[str] = runtime_context.get_state("payment")

    def process_element1(self, value: tuple[str, int, int], ctx: Any, out: Any) -> None:
        paid = self.payment.value()
        if paid is None:
            self.order.update(value[1])
            ctx.timer_service().register_event_time_timer(ctx.timestamp() + 50)
        else:
            out.collect(("paid", ctx.get_current_key(), value[1], paid))
            self.payment.clear()

    def process_element2(self, value: tuple[str, str, int], ctx: Any, out: Any) -> None:
        amount = self.order.value()
        if amount is None:
            self.payment.update(value[1])
        else:
            out.collect(("paid", ctx.get_current_key(), amount, value[1]))
            self.order.clear()

    def on_timer(self, timestamp: int, ctx: Any, out: Any) -> None:
        if self.order.value() is not None:
            out.collect(("unpaid", ctx.get_current_key(), self.order.value(), timestamp))
            self.order.clear()


ORDERS = [(f"o{i}", 10 * i, i * 100) for i in range(40)]  # (id, amount, timestamp)
# every third order is never paid; payments come 20 ms before or 30 ms after their order
PAYMENTS = [(oid, f"card{i}", ts + (30 if i % 2 else -20)) for i, (oid, _, ts) in enumerate(ORDERS)]
PAYMENTS = [p for i, p in enumerate(PAYMENTS) if i % 3]
EXPECTED_ORDERS = sorted(
    [("paid", oid, amount, f"card{i}") for i, (oid, amount, _) in enumerate(ORDERS) if i % 3]
    + [("unpaid", oid, amount, ts + 50) for i, (oid, amount, ts) in enumerate(ORDERS) if not i % 3]
)


def timestamps(field: int) -> WatermarkStrategy:
    return WatermarkStrategy.for_bounded_out_of_orderness(0).with_timestamp_assigner(
        lambda e, _: e[field]
    )


@pytest.mark.parametrize("parallelism", [1, 3])
def test_keyed_co_process_shares_state_and_timers_across_inputs(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int
) -> None:
    env = env_factory(parallelism=parallelism)
    orders = env.from_source(ListSource(ORDERS, batch_size=7), timestamps(2), "orders")
    payments = env.from_source(ListSource(PAYMENTS, batch_size=5), timestamps(2), "payments")
    joined = (
        orders.connect(payments)
        .key_by(lambda o: o[0], lambda p: p[0])
        .process(OrderPayments())
        .execute_and_collect()
    )
    assert sorted(joined) == EXPECTED_ORDERS


def test_keyed_functions_need_keyed_inputs(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory()
    a, b = env.from_collection([1]), env.from_collection([2])
    with pytest.raises(GraphError, match="KeyedCoProcessFunction needs keyed connected streams"):
        a.connect(b).process(OrderPayments())  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="KeyedCoProcessFunction needs keyed connected streams"):
        a.key_by(lambda v: v).connect(b).process(OrderPayments())  # type: ignore[arg-type]
    with pytest.raises(
        GraphError, match="connect\\(\\) takes a DataStream of the same environment"
    ):
        a.connect([1, 2])  # type: ignore[call-overload]


class EveryBatch(WatermarkGenerator):
    """A watermark after every batch: the highest timestamp so far (punctuated)."""

    def on_batch(self, events: Sequence[Any], timestamps: Sequence[int], output: Any) -> None:
        if timestamps:
            output.emit_watermark(Watermark(max(timestamps)))


class TimerPerRecord(KeyedCoProcessFunction[tuple[str, int], tuple[str, int], Any]):
    def process_element1(self, value: tuple[str, int], ctx: Any, out: Any) -> None:
        ctx.timer_service().register_event_time_timer(value[1])

    def process_element2(self, value: tuple[str, int], ctx: Any, out: Any) -> None:
        ctx.timer_service().register_event_time_timer(value[1])

    def on_timer(self, timestamp: int, ctx: Any, out: Any) -> None:
        out.collect((timestamp, ctx.timer_service().current_watermark()))


async def test_event_time_of_a_two_input_task_is_the_minimum_of_its_inputs(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=1)
    per_batch = WatermarkStrategy.for_generator(EveryBatch).with_timestamp_assigner(
        lambda e, _: e[1]
    )
    fast = GatedSource(
        [("k", t) for t in (10, 20, 30, 40, 50, 99, 1_000, 3_000)], limit=6, batch_size=2
    )
    slow = GatedSource([("k", 5), ("k", 45), ("k", 2_000)], limit=0, batch_size=2)
    first = env.from_source(fast, per_batch, "fast")
    second = env.from_source(slow, per_batch, "slow")
    sink: CollectSink[tuple[int, int]] = CollectSink()
    first.connect(second).key_by(lambda v: v[0], lambda v: v[0]).process(TimerPerRecord()).sink_to(
        sink
    )
    job = env.create_job("minimum")
    running = asyncio.create_task(job.run())
    await bounded(job.started.wait())
    [task] = [t for t in job.tasks if isinstance(t, TwoInputTask)]
    metrics = task.chain.head_context.metrics
    gauges = task.input_watermark_gauges

    # the first input is at 99, the second has sent nothing: no timer may fire
    await wait_until(lambda: gauges[0].value == 99, what="input 1 at 99")
    assert gauges[1].value == MIN_WATERMARK
    assert metrics.input_watermark.value == MIN_WATERMARK
    assert sink.values == []

    slow.open_to(2)  # the second input reaches 45: event time is min(99, 45)
    await wait_until(lambda: gauges[1].value == 45, what="input 2 at 45")
    await sink.wait_for(6)  # a timer at the watermark fires (Flink: timestamp <= watermark)
    assert sink.values == [(5, 45), (10, 45), (20, 45), (30, 45), (40, 45), (45, 45)]
    assert metrics.input_watermark.value == 45
    assert metrics.output_watermark.value == 45
    assert metrics.records_in.count == 8

    fast.open_to(7)  # the first input to 1,000: the second (45) now holds event time back
    await wait_until(lambda: gauges[0].value == 1_000, what="input 1 at 1,000")
    assert metrics.input_watermark.value == 45
    assert len(sink.values) == 6
    slow.open_to(3)  # the second input reads 2,000 and ends: it no longer holds time back
    await sink.wait_for(9)
    assert sink.values[6:] == [(50, 1_000), (99, 1_000), (1_000, 1_000)]
    fast.open_to(8)  # the first input alone now: its 3,000 fires the rest, then it ends
    await bounded(running)
    assert sink.values[9:] == [(2_000, 3_000), (3_000, 3_000)]
    assert metrics.output_watermark.value == MAX_WATERMARK
    assert metrics.records_in.count == 11


class Explodes(CoProcessFunction[int, int, int]):
    def process_element1(self, value: int, ctx: Any, out: Any) -> None:
        out.collect(value)

    def process_element2(self, value: int, ctx: Any, out: Any) -> None:
        msg = f"cannot take {value}"
        raise ValueError(msg)


def test_a_failing_co_function_names_its_operator(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory()
    a, b = env.from_collection([1]), env.from_collection([2])
    a.connect(b).process(Explodes()).name("explodes").print()
    with pytest.raises(OperatorError, match=r"operator 'explodes' .* ValueError: cannot take 2"):
        env.execute("explodes")


def test_interval_join_bounds_and_inputs_are_checked_when_built(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory()
    left = env.from_collection([("k", 1)]).key_by(lambda e: e[0])
    right = env.from_collection([("k", 2)])
    with pytest.raises(GraphError, match="needs lower_bound <= upper_bound; got 5 > 1"):
        left.interval_join(right.key_by(lambda e: e[0])).between(5, 1)
    with pytest.raises(GraphError, match=r"lower_bound must be an int of milliseconds; got 1\.5"):
        left.interval_join(right.key_by(lambda e: e[0])).between(1.5, 3)  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="joins two keyed streams"):
        left.interval_join(right)  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="needs a ProcessJoinFunction"):
        left.interval_join(right.key_by(lambda e: e[0])).between(0, 1).process(Label())  # type: ignore[arg-type]


class JoinIds(ProcessJoinFunction[Any, Any, Any]):
    def process_element(self, left: Any, right: Any, ctx: Any, out: Any) -> None:
        out.collect((left[1], right[1]))


async def test_late_interval_join_elements_reach_the_late_data_side_output(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=1)
    per_batch = WatermarkStrategy.for_generator(EveryBatch).with_timestamp_assigner(
        lambda e, _: e[1]
    )
    left = GatedSource([("k", 100), ("k", 10)], limit=1, batch_size=1)
    right = GatedSource([("k", 102)], limit=1, batch_size=1)
    late: OutputTag[Any] = OutputTag("late left")
    joined: DataStream[Any] = (
        env.from_source(left, per_batch, "left")
        .key_by(lambda e: e[0])
        .interval_join(env.from_source(right, per_batch, "right").key_by(lambda e: e[0]))
        .between(0, 5)
        .side_output_left_late_data(late)
        .process(JoinIds())
    )
    pairs: CollectSink[Any] = CollectSink()
    late_left: CollectSink[Any] = CollectSink()
    joined.sink_to(pairs)
    joined.get_side_output(late).sink_to(late_left)
    job = env.create_job("late")
    running = asyncio.create_task(job.run())
    await bounded(job.started.wait())
    [task] = [t for t in job.tasks if isinstance(t, TwoInputTask)]
    # the right input has ended (idle): event time is the left input's 100
    await wait_until(lambda: task.chain.head.current_watermark == 100, what="event time 100")  # type: ignore[attr-defined]
    left.open_to(2)  # (k, 10) is behind it
    await bounded(running)
    assert pairs.values == [(100, 102)]
    assert late_left.values == [("k", 10)]
    assert late_left.records == [(("k", 10), 10)]
    assert task.chain.head_context.metrics.late_records_dropped.count == 0
