"""What one fetch returns against the requested limits, and what a KafkaSource reader holds.

The brokers differ (measured here; see README.md, "Kafka", "Memory"):

- Kafka honours both limits: per partition ``max_partition_fetch_bytes``, per response
  ``fetch_max_bytes``, except that the first batch is returned even when larger.
- Tansu ignores ``max_partition_fetch_bytes`` and returns whole batches until the response
  reaches ``fetch_max_bytes``: the shortest run of batches that is at least the limit.
- noida ignores both: every fetch returns everything from the fetch offset to the end of the log.

aiokafka keeps one response per partition until its records are taken and asks for that
partition again only then, so what a reader holds is one response per partition: bounded by the
source's fetch limits on Kafka and Tansu, and by nothing on noida (aiokafka reads a response
whole; no client setting limits that).
"""

from __future__ import annotations

import os
import struct
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.consumer.fetcher import FetchResult
from aiokafka.protocol.fetch import FetchRequest

from streamrt.connectors.kafka import KafkaSource
from streamrt.connectors.kafka.source_reader import FETCH_LIMITS
from streamrt.runtime.source_reader import SourceReaderContext
from streamrt.testing.embedded_broker import EmbeddedBroker
from tests.conftest import bounded, wait_until

pytestmark = pytest.mark.kafka

#: the brokers to measure: the embedded ones, or only the one KAFKA_BOOTSTRAP names
BROKERS = ["kafka"] if os.environ.get("KAFKA_BOOTSTRAP") else ["noida", "tansu"]

KIB = 1024
#: records per produced batch, and their value size: batches of ~41 KiB
PER_BATCH = 200
VALUE = b"v" * 200


@pytest.fixture(scope="module", params=BROKERS)
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """``(kind, bootstrap servers)``: noida and Kafka as the suite's, Tansu started here."""
    kind = request.param
    if kind != "tansu":
        yield kind, request.getfixturevalue("kafka_bootstrap")
        return
    with EmbeddedBroker("tansu") as tansu:
        yield kind, tansu.bootstrap_servers


async def make_topic(bootstrap: str, partitions: int, batches: int) -> str:
    """A topic of ``batches`` batches of ``PER_BATCH`` records in each partition."""
    name = f"fetch-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"retention.ms": "-1"}  # noida applies retention to record timestamps
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=config)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=64 * KIB)
    await producer.start()
    try:
        now = int(time.time() * 1000)
        for partition in range(partitions):
            for _ in range(batches):  # awaited one by one, so every batch is stored as built
                batch = producer.create_batch()
                for _ in range(PER_BATCH):
                    assert batch.append(key=None, value=VALUE, timestamp=now) is not None
                await (await producer.send_batch(batch, name, partition=partition))
    finally:
        await producer.stop()
    return name


@pytest.fixture
async def consumer(broker: tuple[str, str]) -> AsyncIterator[AIOKafkaConsumer]:
    client = AIOKafkaConsumer(bootstrap_servers=broker[1])
    await client.start()
    yield client
    await client.stop()


async def fetch_once(
    consumer: AIOKafkaConsumer, topic: str, partition_max: int, response_max: int
) -> list[int]:
    """One raw Fetch of partition 0 from offset 0: the sizes of the record batches returned.

    A trailing partial batch (Kafka may cut one at the limit) counts with its partial size.
    """
    cluster = await consumer._client.fetch_all_metadata()  # for the partition's leader
    leader = cluster.leader_for_partition(TopicPartition(topic, 0))
    request = FetchRequest(100, 1, response_max, 0, [(topic, [(0, 0, partition_max)])])
    response = await bounded(consumer._client.send(leader, request), 10)
    [(_, [partition])] = response.topics
    assert partition[1] == 0, f"fetch error code {partition[1]}"
    return batch_sizes(partition[-1])


def batch_sizes(records: bytes) -> list[int]:
    """Sizes of the record batches in a fetched record set (v2 layout: offset, length, ...)."""
    sizes = []
    at = 0
    while at + 12 <= len(records):
        (length,) = struct.unpack_from(">i", records, at + 8)
        size = min(12 + length, len(records) - at)
        sizes.append(size)
        at += size
    return sizes


def shortest_run_reaching(sizes: list[int], limit: int) -> int:
    """Bytes in the shortest run of whole batches from the start that reaches ``limit``."""
    total = 0
    for size in sizes:
        total += size
        if total >= limit:
            break
    return total


@pytest.mark.slow
async def test_one_fetch_returns_what_each_broker_allows(
    broker: tuple[str, str], consumer: AIOKafkaConsumer
) -> None:
    kind, bootstrap = broker
    batches = 24
    topic = await make_topic(bootstrap, 1, batches)  # ~1 MiB in 24 batches of ~41 KiB
    log = await fetch_once(consumer, topic, 64 * 1024 * KIB, 64 * 1024 * KIB)
    assert batches == len(log)
    assert min(log) > 40 * KIB
    everything = sum(log)
    limit = 64 * KIB

    per_partition = sum(await fetch_once(consumer, topic, limit, 64 * 1024 * KIB))
    per_response = sum(await fetch_once(consumer, topic, 64 * 1024 * KIB, limit))

    if kind == "noida":  # ignores both limits
        assert (everything, everything) == (per_partition, per_response)
    elif kind == "tansu":  # ignores the partition limit; whole batches up to the response limit
        assert everything == per_partition
        assert shortest_run_reaching(log, limit) == per_response
        assert limit <= per_response < limit + max(log)
    else:  # Kafka: both, at least the first batch
        assert per_partition <= max(limit, log[0])
        assert per_response <= max(limit, log[0])


def held_bytes(consumer: AIOKafkaConsumer) -> dict[int, int]:
    """Raw bytes aiokafka's fetcher keeps per partition: responses not yet taken by getmany."""
    held = {}
    for tp, result in consumer._fetcher._records.items():
        if type(result) is FetchResult and result.has_more():
            held[tp.partition] = result._partition_records._records.size_in_bytes()
    return held


@pytest.mark.slow
async def test_a_source_reader_that_is_not_read_stops_fetching(broker: tuple[str, str]) -> None:
    """Back-pressure reaches the fetcher: one response per partition, then no fetch at all."""
    kind, bootstrap = broker
    partitions, batches = 2, 40
    topic = await make_topic(bootstrap, partitions, batches)  # ~1.6 MiB per partition
    source = KafkaSource[bytes](bootstrap_servers=bootstrap, topics=[topic])
    reader = source.create_reader(SourceReaderContext(0, 1, "job", "orders"))
    await bounded(reader.start(), 15)
    try:
        client = reader._consumer._client
        fetcher = client._fetcher

        def settled() -> bool:  # every partition has a response waiting; no request out
            return len(held_bytes(client)) == partitions and not fetcher._in_flight

        await wait_until(settled, what="one response per partition")
        # the fetcher's own decision: nothing to fetch while every partition holds a response
        assert (
            fetcher._get_actions_per_node(fetcher._subscriptions.subscription.assignment)[0] == []
        )
        held = held_bytes(client)
        batch = len(VALUE) * PER_BATCH + 4 * KIB  # one batch, generously
        if kind == "noida":  # the whole partition, whatever was asked: nothing bounds it
            assert all(size > batches * len(VALUE) * PER_BATCH for size in held.values()), held
        else:  # FETCH_LIMITS: at most the limit plus one batch per partition
            limit = min(FETCH_LIMITS.values())
            assert all(size < limit + batch for size in held.values()), held

        fetched = await bounded(reader.fetch(), 10)
        assert fetched is not None
        assert 0 < sum(len(b.values) for b in fetched) <= source.max_batch_records
    finally:
        await reader.close()


async def test_consumer_settings_override_the_fetch_limits() -> None:
    source = KafkaSource[bytes](
        bootstrap_servers="127.0.0.1:9",
        topics=["t"],
        consumer_settings={"fetch_max_bytes": 5 * 1024 * KIB},
    )
    reader = source.create_reader(SourceReaderContext(0, 1, "job", "orders"))
    client = reader._consumer._make()  # made, never started: no connection
    limits = (client._fetch_max_bytes, client._max_partition_fetch_bytes)
    await client.stop()
    assert (5 * 1024 * KIB, FETCH_LIMITS["max_partition_fetch_bytes"]) == limits
