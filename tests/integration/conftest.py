"""A real Kafka-protocol broker for the integration tests.

``KAFKA_BOOTSTRAP`` set: every Kafka test runs against that broker (a real Apache Kafka, e.g.
the one in docker-compose.yml). Otherwise the session starts the embedded noida broker from its
PyPI wheel on a free loopback port and stops it at the end (see ../shared/kafka-brokers.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streamrt.testing.embedded_broker import EmbeddedBroker


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    with EmbeddedBroker("noida") as broker:
        yield broker.bootstrap_servers


class Kafka:
    """Test-side Kafka access through plain aiokafka (independent of the code under test)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    async def create_topic(
        self, partitions: int, prefix: str = "t", configs: dict[str, str] | None = None
    ) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            # noida applies retention.ms to record timestamps: tests with fixed historical
            # event times would see their records deleted within a second
            topic = NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=1,
                topic_configs={"retention.ms": "-1", **(configs or {})},
            )
            await admin.create_topics([topic])
        finally:
            await admin.close()
        return name

    async def produce(
        self,
        topic: str,
        records: Sequence[tuple[bytes | None, bytes | None]],
        *,
        partition: int | None = None,
        timestamps: Sequence[int] | None = None,
        headers: Sequence[list[tuple[str, bytes]]] | None = None,
    ) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        try:
            futures = []
            for i, (key, value) in enumerate(records):
                futures.append(
                    await producer.send(
                        topic,
                        value,
                        key=key,
                        partition=partition,
                        timestamp_ms=timestamps[i] if timestamps else None,
                        headers=headers[i] if headers else None,
                    )
                )
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def produce_json(
        self, topic: str, values: Sequence[Any], key: Callable[[Any], str]
    ) -> None:
        await self.produce(topic, [(key(v).encode(), json.dumps(v).encode()) for v in values])

    async def consume(self, topic: str, count: int, timeout: float = 30.0) -> list[Any]:
        """Read ``count`` records from the start of ``topic`` (fail after ``timeout``)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer.topics()
                partitions = consumer.partitions_for_topic(topic) or set()
            consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
            await consumer.seek_to_beginning()
            got: list[Any] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while len(got) < count:
                if loop.time() > deadline:
                    pytest.fail(f"read {len(got)} of {count} records from {topic} in {timeout} s")
                batch = await consumer.getmany(timeout_ms=200)
                for messages in batch.values():
                    got.extend(messages)
            return got
        finally:
            await consumer.stop()

    async def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            await consumer.topics()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            ends = await consumer.end_offsets(partitions)
            return {tp.partition: offset for tp, offset in ends.items()}
        finally:
            await consumer.stop()

    async def committed(self, topic: str, group: str) -> dict[int, int | None]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            await consumer.topics()
            result = {}
            for p in sorted(consumer.partitions_for_topic(topic) or ()):
                result[p] = await consumer.committed(TopicPartition(topic, p))
            return result
        finally:
            await consumer.stop()


@pytest.fixture
def kafka(kafka_bootstrap: str) -> Kafka:
    return Kafka(kafka_bootstrap)
