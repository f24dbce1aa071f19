"""Built-in sources (iterator, data generator) and the partitioning methods, end to end."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from streamrt import (
    ConfigError,
    DataGeneratorSource,
    GraphError,
    IteratorSource,
    MapFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from streamrt.testing import CollectSink


async def test_an_iterator_source_reads_a_generator(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    def numbers() -> Iterator[int]:
        yield from range(2_500)

    env = env_factory(parallelism=3)  # the source stays at 1: iterators are not parallel
    sink: CollectSink[int] = CollectSink()
    env.from_source(IteratorSource(numbers(), batch_size=100)).map(lambda v: v * 2).sink_to(sink)
    graph = env.get_job_graph()
    assert graph.vertices[0].parallelism == 1
    await env.execute_async("iterator")
    assert sorted(sink.values) == [v * 2 for v in range(2_500)]


async def test_an_async_iterator_source_batches_what_has_arrived(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    async def ticks() -> AsyncIterator[int]:
        for i in range(300):
            if i % 50 == 0:
                await asyncio.sleep(0)  # an I/O-bound producer hands control back now and then
            yield i

    env = env_factory()
    sink: CollectSink[int] = CollectSink()
    env.from_source(IteratorSource(ticks())).sink_to(sink)
    await env.execute_async("async iterator")
    assert sink.values == list(range(300))  # one reader: order is kept


def test_an_iterator_source_is_read_once_and_not_parallel() -> None:
    source = IteratorSource(iter([1, 2]))
    env = StreamExecutionEnvironment()
    stream = env.from_source(source)
    with pytest.raises(GraphError, match="source 'Source: IteratorSource' is not parallel"):
        stream.set_parallelism(2)
    with pytest.raises(ConfigError, match="needs an iterable or async iterable; got 5"):
        IteratorSource(5)  # type: ignore[arg-type]


async def test_a_rate_limited_generator_emits_its_count_in_order_per_subtask(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    sink: CollectSink[int] = CollectSink()
    env.from_source(DataGeneratorSource(lambda i: i, 400, records_per_second=20_000)).sink_to(sink)
    await env.execute_async("generator")
    assert sorted(sink.values) == list(range(400))
    evens = [v for v in sink.values if v % 2 == 0]  # subtask 0 makes the even indices
    assert evens == sorted(evens)


class Tag(MapFunction[int, tuple[int, int]]):
    """Pairs each value with the index of the subtask that saw it."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.index = runtime_context.subtask_index

    def map(self, value: int) -> tuple[int, int]:
        return value, self.index


@pytest.mark.parametrize("parallelism", [2, 3])
async def test_broadcast_global_and_shuffle(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int
) -> None:
    env = env_factory(parallelism=parallelism)
    values = list(range(60))
    source = env.from_collection(values)
    everywhere: CollectSink[tuple[int, int]] = CollectSink()
    first: CollectSink[tuple[int, int]] = CollectSink()
    spread: CollectSink[tuple[int, int]] = CollectSink()
    source.broadcast().map(Tag()).sink_to(everywhere)
    source.global_().map(Tag()).sink_to(first)
    source.shuffle().map(Tag()).sink_to(spread)
    await env.execute_async("partitioning")
    assert Tally(v for v, _ in everywhere.values) == Tally(values * parallelism)
    assert {s for _, s in everywhere.values} == set(range(parallelism))
    assert sorted(v for v, _ in first.values) == values
    assert {s for _, s in first.values} == {0}
    assert sorted(v for v, _ in spread.values) == values
    assert len({s for _, s in spread.values}) > 1  # 60 records over 2-3 subtasks at random
