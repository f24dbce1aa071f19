"""A source never creates a topic: a missing one is refused in both modes, or waited for."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streamrt import OperatorError, StreamExecutionEnvironment
from streamrt.connectors.kafka import KafkaSource
from streamrt.testing import CollectSink
from tests.conftest import bounded, wait_until
from tests.integration.conftest import Kafka

pytestmark = pytest.mark.kafka


async def _topics(kafka: Kafka) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


@pytest.mark.parametrize("mode", ["group", "assigned"])
async def test_a_missing_topic_is_refused_and_not_created(kafka: Kafka, mode: str) -> None:
    topic = f"missing-{uuid.uuid4().hex[:8]}"
    env = StreamExecutionEnvironment()
    env.from_source(
        KafkaSource(
            bootstrap_servers=kafka.bootstrap,
            topics=[topic],
            group_id=f"g-{topic}",
            mode=mode,  # type: ignore[arg-type]
            starting_offsets="earliest",
        )
    ).sink_to(CollectSink())
    expected = (
        f"topic '{topic}' does not exist at {kafka.bootstrap}; create it (with the partition "
        "count you need) before starting the job, or pass wait_for_topics=True"
    )
    with pytest.raises(OperatorError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        await bounded(env.execute_async("missing topic"))
    assert topic not in await _topics(kafka)


async def test_wait_for_topics_waits_until_the_topic_exists(kafka: Kafka) -> None:
    name = f"later-{uuid.uuid4().hex[:8]}"
    sink: CollectSink[bytes] = CollectSink()
    env = StreamExecutionEnvironment()
    env.from_source(
        KafkaSource(
            bootstrap_servers=kafka.bootstrap,
            topics=[name],
            wait_for_topics=True,
        )
    ).sink_to(sink)
    job = env.create_job("waits")
    running = asyncio.create_task(job.run())
    await wait_until(lambda: job.started.is_set(), what="the job to start")
    ready, reason = job.readiness()
    assert (ready, reason) == (False, "sources are still connecting")
    assert name not in await _topics(kafka)  # waiting created nothing
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    await kafka.produce(name, [(None, b"a"), (None, b"b")], partition=0)
    await sink.wait_for(2)
    job.stop()
    result = await bounded(running)
    assert sink.values == [b"a", b"b"]
    assert result.job_name == "waits"
    assert job.status.value == "finished"
