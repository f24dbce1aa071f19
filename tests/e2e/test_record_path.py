"""Source -> chain -> channel -> task -> sink, over object reuse x parallelism (1, 2, 4)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable
from typing import Any

import pytest

from streamrt import OutputTag, ProcessFunction, StreamExecutionEnvironment, WatermarkStrategy
from streamrt.testing import CollectSink, ListSource

MATRIX = [(p, reuse) for p in (1, 2, 4) for reuse in (False, True)]
IDS = [f"p{p}-{'reuse' if reuse else 'copy'}" for p, reuse in MATRIX]

LINES = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "The dog barks",
    "a fox is quick",
    "",
    "THE END of the story",
] * 7


@pytest.mark.parametrize(("parallelism", "object_reuse"), MATRIX, ids=IDS)
async def test_word_count_running_totals_are_exact(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int, object_reuse: bool
) -> None:
    env = env_factory(parallelism=parallelism, object_reuse=object_reuse)
    sink: CollectSink[tuple[str, int]] = CollectSink()
    (
        env.from_collection(LINES)
        .flat_map(str.split)
        .name("split")
        .filter(lambda w: len(w) > 2)
        .name("long words")
        .map(lambda w: (w.lower(), 1))
        .name("pair")
        .key_by(lambda kv: kv[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .name("count")
        .sink_to(sink)
    )
    result = await env.execute_async("word count")

    words = [w.lower() for line in LINES for w in line.split() if len(w) > 2]
    expected = Tally(words)
    for word, total in expected.items():
        # per key, the running totals arrive in order, whatever the interleaving of keys
        assert [c for w, c in sink.values if w == word] == list(range(1, total + 1))
    assert len(sink.values) == len(words)

    stats = result.statistics
    assert stats.operator("split").records_out == sum(len(line.split()) for line in LINES)
    assert stats.operator("long words").records_out == len(words)
    assert stats.operator("count").records_in == len(words)
    assert stats.operator("count").records_out == len(words)
    assert stats.status == "finished"


class Route(ProcessFunction[int, int]):
    """Even values x10 to the main output, odd ones to the side output."""

    def __init__(self, odd: OutputTag[int]) -> None:
        self.odd = odd

    def process_element(self, value: int, ctx: ProcessFunction.Context, out: Any) -> None:
        if value % 2:
            ctx.output(self.odd, value)
        else:
            out.collect(value * 10)


@pytest.mark.parametrize(("parallelism", "object_reuse"), MATRIX, ids=IDS)
async def test_side_outputs_fan_out_and_union(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int, object_reuse: bool
) -> None:
    env = env_factory(parallelism=parallelism, object_reuse=object_reuse)
    odd = OutputTag[int]("odd")
    routed = env.from_collection(range(100)).process(Route(odd)).name("route")
    main_a: CollectSink[int] = CollectSink()
    main_b: CollectSink[str] = CollectSink()
    side: CollectSink[int] = CollectSink()
    merged: CollectSink[int] = CollectSink()
    routed.sink_to(main_a).name("main a")
    routed.map(lambda v: f"v{v}").name("label").rebalance().sink_to(main_b).name("main b")
    odds = routed.get_side_output(odd)
    odds.key_by(lambda v: v % 3).map(lambda v: -v).name("negate").sink_to(side).name("side")
    others = env.from_collection(range(1000, 1010)).name("Source: others")
    odds.union(others).map(lambda v: v + 1).name("merge").sink_to(merged).name("merged")

    result = await env.execute_async("routes")

    evens = [v * 10 for v in range(0, 100, 2)]
    odd_values = list(range(1, 100, 2))
    assert sorted(main_a.values) == evens
    assert sorted(main_b.values) == sorted(f"v{v}" for v in evens)
    assert sorted(side.values) == sorted(-v for v in odd_values)
    assert sorted(merged.values) == sorted([v + 1 for v in odd_values] + list(range(1001, 1011)))

    stats = result.statistics
    route = stats.operator("route")
    assert (route.records_in, route.records_out) == (100, 100)  # 50 main + 50 side, each once
    assert stats.operator("label").records_in == 50
    assert stats.operator("negate").records_in == 50
    assert stats.operator("merge").records_in == 60


@pytest.mark.parametrize(("parallelism", "object_reuse"), MATRIX, ids=IDS)
async def test_timestamps_survive_chains_and_channels(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int, object_reuse: bool
) -> None:
    env = env_factory(parallelism=parallelism, object_reuse=object_reuse)
    values = list(range(50))
    source = ListSource(values, batch_size=7, timestamps=[1_000 + v for v in values])
    sink: CollectSink[int] = CollectSink()
    (
        env.from_source(source, WatermarkStrategy.for_monotonous_timestamps(), "numbers")
        .map(lambda v: v * 2)
        .key_by(lambda v: v % 5)
        .flat_map(lambda v: [v, v + 1])
        .sink_to(sink)
    )
    await env.execute_async("timestamps")
    assert sorted(sink.records) == sorted(
        [(v * 2, 1_000 + v) for v in values] + [(v * 2 + 1, 1_000 + v) for v in values]
    )
