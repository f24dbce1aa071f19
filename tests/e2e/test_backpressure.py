"""A slow sink back-pressures a fast source: queues and in-flight records stay bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from streamrt import DataGeneratorSource, StreamExecutionEnvironment
from streamrt.runtime.sink_writer import SinkWriterBase, SinkWriterContext
from tests.conftest import bounded, cancel_and_expect_cancelled


class SlowSink(SinkWriterBase):
    """Accepts 64 records, then needs a 2 ms flush before taking more."""

    def __init__(self, until: int) -> None:
        self.received = 0
        self.pending = 0
        self.until = until
        self.reached = asyncio.Event()

    def create_writer(self, context: SinkWriterContext) -> SlowSink:
        return self

    def write(self, value: Any, timestamp: int | None) -> None:
        self.received += 1
        self.pending += 1
        if self.received >= self.until:
            self.reached.set()

    @property
    def available(self) -> bool:
        return self.pending < 64

    async def flush(self, end_of_input: bool) -> None:
        await asyncio.sleep(0.002)  # the slowness under test, not synchronization
        self.pending = 0


async def test_slow_sink_bounds_queues_and_in_flight_records(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2, buffer_size=128, channel_capacity=4)
    sink = SlowSink(until=6_000)
    (
        env.from_source(DataGeneratorSource(lambda i: {"i": i, "k": i % 7}), source_name="fast")
        .map(lambda d: d)
        .key_by(lambda d: d["k"])
        .map(lambda d: d["i"])
        .name("after shuffle")
        .sink_to(sink)
        .name("slow")
        .set_parallelism(1)
    )
    job = env.create_job("backpressure")
    running = asyncio.create_task(job.run())
    try:
        await bounded(sink.reached.wait(), 60)
        stats = job.statistics()
    finally:
        await cancel_and_expect_cancelled((job, running))

    # each channel: its capacity plus what one input batch may overshoot (Flink's overdraft)
    for channel in stats.channels:
        assert channel.peak_buffers_queued <= channel.capacity + 9, channel
    read = sum(o.records_in for o in stats.operators if o.operator == "Source: fast")
    written = stats.operator("slow").records_out
    # in flight: channels (2 producers x 2 consumers... x capacity+overdraft) x buffer size,
    # plus the sources' fetch-ahead (2 batches of 1024 each) and one batch in hand
    channels = len(stats.channels)
    assert read - written <= channels * (4 + 9) * 128 + 2 * 3 * 1024
    source_tasks = [t for t in stats.tasks if t.task.startswith("Source: fast")]
    # how long the sources waited is timing; that each of them waited at all is the point
    assert all(t.backpressured_seconds > 0 for t in source_tasks)
