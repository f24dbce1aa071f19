"""Channel buffers: flushed when full, on the buffer timeout, and before control elements."""

from __future__ import annotations

import asyncio
from typing import Any

from streamrt import DataGeneratorSource, StreamExecutionEnvironment
from streamrt.testing import CollectSink
from tests.conftest import cancel_and_expect_cancelled


def data_buffers(result_stats: Any) -> int:
    return sum(c.buffers_sent for c in result_stats.channels)


async def test_timeout_minus_one_sends_only_full_buffers_and_flushes_before_control() -> None:
    env = StreamExecutionEnvironment(buffer_timeout_ms=-1, buffer_size=512)
    sink: CollectSink[int] = CollectSink()
    env.from_collection(range(1_000)).rebalance().map(lambda v: v).sink_to(sink)
    result = await env.execute_async("full buffers")
    # 512 + 488 records, then the final MAX watermark and end of input
    assert data_buffers(result.statistics) == 4
    assert sink.values == list(range(1_000))


async def test_timeout_zero_sends_every_record_at_once() -> None:
    env = StreamExecutionEnvironment(buffer_timeout_ms=0)
    sink: CollectSink[int] = CollectSink()
    env.from_collection(range(100)).rebalance().map(lambda v: v).sink_to(sink)
    result = await env.execute_async("every record")
    assert data_buffers(result.statistics) == 100 + 2
    assert sink.values == list(range(100))


async def test_the_timeout_flushes_a_partial_buffer_of_a_running_job() -> None:
    env = StreamExecutionEnvironment(buffer_timeout_ms=20, buffer_size=512)
    sink: CollectSink[int] = CollectSink()
    (
        env.from_source(DataGeneratorSource(lambda i: i, records_per_second=200, batch_size=1))
        .rebalance()
        .map(lambda v: v)
        .sink_to(sink)
    )
    job = env.create_job("trickle")
    running = asyncio.create_task(job.run())
    try:
        # far fewer records than a buffer holds, and no end of input: only the timer sends them
        await sink.wait_for(3, timeout=10)
    finally:
        await cancel_and_expect_cancelled((job, running))
    assert sink.values[:3] == [0, 1, 2]
