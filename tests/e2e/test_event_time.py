"""Event time end to end: watermarks through channels, timers, the final MAX watermark."""

from __future__ import annotations

import random
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from streamrt import (
    MAX_WATERMARK,
    KeyedProcessFunction,
    StreamExecutionEnvironment,
    WatermarkGenerator,
    WatermarkStrategy,
)
from streamrt.functions import RuntimeContext
from streamrt.runtime.elements import Watermark
from streamrt.runtime.state import MapState
from streamrt.testing import CollectSink, ListSource

WINDOW = 100


class Punctuated(WatermarkGenerator):
    """Emits a watermark after every record: its timestamp minus the allowed lateness."""

    def __init__(self, lateness: int) -> None:
        self.lateness = lateness

    def on_batch(self, events: Sequence[Any], timestamps: Sequence[int], output: Any) -> None:
        if timestamps:
            output.emit_watermark(Watermark(max(timestamps) - self.lateness - 1))


class TumblingCount(KeyedProcessFunction[dict[str, Any], tuple[str, int, int]]):
    """Counts per key and 100 ms window; reports when the watermark passes the window."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.counts: MapState[int, int] = runtime_context.get_map_state("counts")

    def process_element(self, value: dict[str, Any], ctx: Any, out: Any) -> None:
        end = (ctx.timestamp() // WINDOW + 1) * WINDOW
        self.counts.put(end, (self.counts.get(end) or 0) + 1)
        ctx.timer_service().register_event_time_timer(end - 1)

    def on_timer(self, timestamp: int, ctx: Any, out: Any) -> None:
        end = timestamp + 1
        out.collect((ctx.get_current_key(), end, self.counts.get(end)))
        self.counts.remove(end)


def events(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    ts = 0
    out = []
    for _ in range(n):
        ts += rng.randrange(0, 7)
        # slightly out of order, within the lateness the generator allows
        out.append({"user": f"u{rng.randrange(5)}", "t": max(0, ts - rng.randrange(0, 20))})
    return out


@pytest.mark.parametrize("parallelism", [1, 2, 4])
async def test_windows_built_on_timers_are_exact_across_parallel_channels(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int
) -> None:
    fast, slow = events(3_000, seed=parallelism), events(3_000, seed=parallelism + 10)
    data = fast + slow
    env = env_factory(parallelism=parallelism)
    strategy = WatermarkStrategy.for_generator(
        lambda: Punctuated(lateness=20)
    ).with_timestamp_assigner(lambda e, _: e["t"])
    sink: CollectSink[tuple[str, int, int]] = CollectSink()
    # one source races to the end in one batch while the other trickles: only the valve's
    # minimum keeps the trickling source's records from being late
    racing = env.from_source(ListSource(fast, batch_size=3_000), strategy, "racing")
    trickling = env.from_source(ListSource(slow, batch_size=5), strategy, "trickling")
    (
        racing.union(trickling)
        .key_by(lambda e: e["user"])
        .process(TumblingCount())
        .name("tumbling count")
        .sink_to(sink)
    )
    result = await env.execute_async("windows")
    expected = Tally((e["user"], (e["t"] // WINDOW + 1) * WINDOW) for e in data)
    got = {(user, end): count for user, end, count in sink.values}
    assert len(sink.values) == len(got), "a window fired twice: the watermark ran ahead"
    assert got == dict(expected)
    # every window fired at the timer's time, so the records carry the window's last ms
    assert sorted(ts or 0 for ts in sink.timestamps) == sorted(end - 1 for _, end in expected)
    window_op = result.statistics.operator("tumbling count")
    assert window_op.current_input_watermark == MAX_WATERMARK
    assert window_op.current_output_watermark == MAX_WATERMARK


async def test_watermarks_fire_timers_mid_stream_not_only_at_the_end(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    data = [{"user": "u", "t": t} for t in range(0, 1_000, 10)]
    env = env_factory()
    strategy = WatermarkStrategy.for_generator(
        lambda: Punctuated(lateness=0)
    ).with_timestamp_assigner(lambda e, _: e["t"])
    seen: list[int] = []

    class Probe(KeyedProcessFunction[dict[str, Any], int]):
        def process_element(self, value: dict[str, Any], ctx: Any, out: Any) -> None:
            seen.append(ctx.timer_service().current_watermark())
            out.collect(value["t"])

    sink: CollectSink[int] = CollectSink()
    (
        env.from_source(ListSource(data, batch_size=10), strategy, "events")
        .key_by(lambda e: e["user"])
        .process(Probe())
        .sink_to(sink)
    )
    await env.execute_async("mid-stream")
    # batches of 10 records, a punctuated watermark after each: record i sees the watermark
    # of the batch before it (channels deliver in order)
    assert seen[:10] == [-(2**63)] * 10
    assert seen[10:20] == [89] * 10
    assert seen[-1] == 889
    assert sink.values == list(range(0, 1_000, 10))


async def test_a_bounded_job_ends_with_the_max_watermark_without_a_strategy(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    env.from_collection(range(10)).key_by(lambda v: v % 2).map(lambda v: v).name("m").sink_to(
        CollectSink()
    )
    result = await env.execute_async("max")
    assert result.statistics.operator("m").current_input_watermark == MAX_WATERMARK
