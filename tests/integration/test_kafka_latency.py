"""Latency is bounded by settings (the sink's linger, the source's fetch), not by checkpoints."""

from __future__ import annotations

import asyncio
import time

import pytest

from streamrt import StreamExecutionEnvironment
from streamrt.connectors.kafka import KafkaSink, KafkaSource
from streamrt.runtime.job import Job, JobStatus
from tests.conftest import bounded, wait_until
from tests.integration.conftest import Kafka

pytestmark = pytest.mark.kafka


def assigned_partitions(job: Job) -> list[float]:
    return [
        c.value for c in job.statistics().connectors if c.name == "kafka_source_assigned_partitions"
    ]


async def test_a_record_on_an_idle_job_is_sent_long_before_the_next_checkpoint(
    kafka: Kafka,
) -> None:
    source_topic = await kafka.create_topic(2)
    target_topic = await kafka.create_topic(1)
    env = StreamExecutionEnvironment(parallelism=1)
    env.enable_checkpointing(60_000)  # the first checkpoint is a minute away
    env.from_source(
        KafkaSource(
            bootstrap_servers=kafka.bootstrap, topics=[source_topic], starting_offsets="latest"
        ),
        source_name="in",
    ).map(lambda value: value + b"!").sink_to(
        KafkaSink(bootstrap_servers=kafka.bootstrap, topic=target_topic)  # default linger_ms
    )
    job = env.create_job("latency")
    running = asyncio.create_task(job.run())
    try:
        await wait_until(
            lambda: assigned_partitions(job) == [2], timeout=30, what="the source's partitions"
        )
        start = time.monotonic()
        await kafka.produce(source_topic, [(None, b"ping")])
        # the sink's buffer holds 10,000 records: without a linger bound this record would
        # wait for the checkpoint a minute from now
        out = await kafka.consume(target_topic, 1, timeout=2.0)
        elapsed = time.monotonic() - start
        assert [m.value for m in out] == [b"ping!"]
        assert elapsed < 2.0
        assert job.coordinator is not None
        assert job.coordinator.statistics().completed == 0  # no checkpoint flushed it
    finally:
        job.stop()
        result = await bounded(running)
    assert job.status is JobStatus.FINISHED
    assert result.statistics.operator("Source: in").records_out == 1
