"""Two-input operators checkpointed mid-stream and restored (at another parallelism too) give
the results of an uninterrupted run: a keyed co-process, a keyed co-map and an interval join."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from streamrt import (
    DataStream,
    ProcessJoinFunction,
    StreamExecutionEnvironment,
    WatermarkGenerator,
    WatermarkStrategy,
)
from streamrt.runtime.elements import Watermark
from streamrt.testing import CollectSink, GatedSource
from tests.conftest import bounded, cancel_and_expect_cancelled, wait_until
from tests.e2e.test_connected_streams import (
    EXPECTED_ORDERS,
    ORDERS,
    PAYMENTS,
    CountPerKey,
    OrderPayments,
)

#: how far records of one input may arrive out of timestamp order
DISORDER = 20


class PerBatchBounded(WatermarkGenerator):
    """Bounded out-of-orderness, emitted with every batch (not periodically), so that a gated
    source has sent every watermark of what it read before a checkpoint barrier follows."""

    def __init__(self) -> None:
        self.highest: int | None = None

    def on_batch(self, events: Sequence[Any], timestamps: Sequence[int], output: Any) -> None:
        if timestamps:
            self.highest = max(self.highest or timestamps[0], *timestamps)
            output.emit_watermark(Watermark(self.highest - DISORDER - 1))


def strategy(field: int) -> WatermarkStrategy:
    return WatermarkStrategy.for_generator(PerBatchBounded).with_timestamp_assigner(
        lambda e, _: e[field]
    )


JobBuilder = Callable[
    [StreamExecutionEnvironment, GatedSource[Any], GatedSource[Any], CollectSink[Any], int], None
]


async def run_interrupted(
    tmp_path: Path,
    build: JobBuilder,
    first: list[Any],
    second: list[Any],
    limits: tuple[int, int],
    parallelisms: tuple[int, int],
) -> tuple[list[Any], list[Any], list[Any]]:
    """(uninterrupted results, results before the savepoint, results after restoring it)."""
    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    whole: CollectSink[Any] = CollectSink()
    build(
        env,
        GatedSource(first, len(first), batch_size=7),
        GatedSource(second, len(second), batch_size=5),
        whole,
        parallelisms[0],
    )
    await bounded(env.create_job("uninterrupted").run())

    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(3_600_000)
    before: CollectSink[Any] = CollectSink()
    gated = (
        GatedSource(first, limits[0], batch_size=7),
        GatedSource(second, limits[1], batch_size=5),
    )
    build(env, *gated, before, parallelisms[0])
    job = env.create_job("interrupted")
    running = asyncio.create_task(job.run())
    await bounded(job.started.wait())
    readers = [[t for t in job.tasks if t.vertex.head.source is g] for g in gated]
    # both sources stand at their gates: the savepoint is taken there, and nothing follows it
    await wait_until(
        lambda: [sum(t.records_out for t in r) for r in readers] == list(limits),
        what="both sources at their gates",
    )
    savepoint = await bounded(job.savepoint(tmp_path / "savepoints"))
    await cancel_and_expect_cancelled((job, running))

    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    after: CollectSink[Any] = CollectSink()
    build(
        env,
        GatedSource(first, len(first), batch_size=7),
        GatedSource(second, len(second), batch_size=5),
        after,
        parallelisms[1],
    )
    await bounded(env.create_job("interrupted", restore_from=savepoint.location).run())
    return whole.values, before.values, after.values


def orders_job(
    env: StreamExecutionEnvironment,
    orders: GatedSource[Any],
    payments: GatedSource[Any],
    sink: CollectSink[Any],
    parallelism: int,
) -> None:
    first = env.from_source(orders, strategy(2), "orders").uid("orders")
    second = env.from_source(payments, strategy(2), "payments").uid("payments")
    (
        first.connect(second)
        .key_by(lambda o: o[0], lambda p: p[0])
        .process(OrderPayments())
        .uid("orders-payments")
        .set_parallelism(parallelism)
        .sink_to(sink)
        .set_parallelism(1)
    )


@pytest.mark.parametrize("parallelisms", [(2, 2), (2, 3)])
async def test_a_keyed_co_process_restored_mid_stream_gives_the_uninterrupted_results(
    tmp_path: Path, parallelisms: tuple[int, int]
) -> None:
    whole, before, after = await run_interrupted(
        tmp_path, orders_job, ORDERS, PAYMENTS, (20, 12), parallelisms
    )
    assert sorted(whole) == EXPECTED_ORDERS
    assert 0 < len(before) < len(whole)
    assert sorted(before + after) == EXPECTED_ORDERS


def count_job(
    env: StreamExecutionEnvironment,
    orders: GatedSource[Any],
    payments: GatedSource[Any],
    sink: CollectSink[Any],
    parallelism: int,
) -> None:
    first = env.from_source(orders, strategy(2), "orders").uid("orders")
    second = env.from_source(payments, strategy(2), "payments").uid("payments")
    (
        first.map(lambda o: o[0])
        .key_by(lambda oid: oid)
        .connect(second.map(lambda p: p[0]).key_by(lambda oid: oid))
        .map(CountPerKey())
        .uid("count")
        .set_parallelism(parallelism)
        .sink_to(sink)
        .set_parallelism(1)
    )


@pytest.mark.parametrize("parallelisms", [(2, 2), (2, 3)])
async def test_a_keyed_co_map_restored_mid_stream_keeps_counting_per_key(
    tmp_path: Path, parallelisms: tuple[int, int]
) -> None:
    whole, before, after = await run_interrupted(
        tmp_path, count_job, ORDERS, PAYMENTS, (20, 12), parallelisms
    )
    # each order id once from the orders, once more from its payment if it has one
    paid = {p[0] for p in PAYMENTS}
    expected = sorted([(o[0], 1) for o in ORDERS] + [(oid, 2) for oid in paid])
    assert sorted(whole) == expected
    assert 0 < len(before) < len(whole)
    assert sorted(before + after) == expected


class Pair(ProcessJoinFunction[Any, Any, Any]):
    def process_element(self, left: Any, right: Any, ctx: Any, out: Any) -> None:
        out.collect((left[2], right[2], ctx.get_timestamp()))


def events(n: int, seed: int) -> list[tuple[str, int, str]]:
    """(key, timestamp, id), out of timestamp order by at most ``DISORDER``."""
    rng = random.Random(seed)
    made = [(f"k{rng.randrange(5)}", rng.randrange(0, 3_000), f"{seed}-{i}") for i in range(n)]
    return sorted(made, key=lambda e: e[1] + rng.randint(0, DISORDER))


LEFT, RIGHT = events(300, seed=1), events(300, seed=2)
LOWER, UPPER = -15, 40


def nested_loop_join() -> list[tuple[str, str, int]]:
    """Pairs with ``LOWER < right.ts - left.ts <= UPPER`` (lower bound exclusive)."""
    return sorted(
        (lv[2], rv[2], max(lv[1], rv[1]))
        for lv in LEFT
        for rv in RIGHT
        if lv[0] == rv[0] and LOWER < rv[1] - lv[1] <= UPPER
    )


def join_job(
    env: StreamExecutionEnvironment,
    left: GatedSource[Any],
    right: GatedSource[Any],
    sink: CollectSink[Any],
    parallelism: int,
) -> None:
    first: DataStream[Any] = env.from_source(left, strategy(1), "left").uid("left")
    second: DataStream[Any] = env.from_source(right, strategy(1), "right").uid("right")
    (
        first.key_by(lambda e: e[0])
        .interval_join(second.key_by(lambda e: e[0]))
        .between(LOWER, UPPER)
        .lower_bound_exclusive()
        .process(Pair())
        .uid("join")
        .set_parallelism(parallelism)
        .sink_to(sink)
        .set_parallelism(1)
    )


@pytest.mark.parametrize("parallelisms", [(2, 2), (3, 1)])
async def test_an_interval_join_restored_mid_stream_gives_the_uninterrupted_results(
    tmp_path: Path, parallelisms: tuple[int, int]
) -> None:
    whole, before, after = await run_interrupted(
        tmp_path, join_job, LEFT, RIGHT, (150, 120), parallelisms
    )
    expected = nested_loop_join()
    assert sorted(whole) == expected
    assert 0 < len(before) < len(whole)
    assert sorted(before + after) == expected
