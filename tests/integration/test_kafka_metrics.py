"""Kafka metrics scraped over HTTP: lag drains to zero, offsets and sends are counted."""

from __future__ import annotations

import pytest

from metrics import MetricsServer
from streamrt import StreamExecutionEnvironment
from streamrt.connectors.kafka import KafkaSink, KafkaSource
from tests.conftest import bounded
from tests.e2e.test_metrics_endpoints import get, samples
from tests.integration.conftest import Kafka

pytestmark = pytest.mark.kafka


async def test_lag_reaches_zero_after_a_bounded_job_drained_its_topic(kafka: Kafka) -> None:
    source_topic = await kafka.create_topic(3)
    target_topic = await kafka.create_topic(2)
    await kafka.produce(source_topic, [(None, b"%d" % i) for i in range(900)])
    env = StreamExecutionEnvironment(parallelism=2)
    env.enable_checkpointing(50)
    env.from_source(
        KafkaSource(
            bootstrap_servers=kafka.bootstrap,
            topics=[source_topic],
            group_id="lag-test",
            bounded=True,
        ),
        source_name="in",
    ).sink_to(KafkaSink(bootstrap_servers=kafka.bootstrap, topic=target_topic)).name("out")
    job = env.create_job("drain")
    async with MetricsServer(job, host="127.0.0.1", port=0) as server:
        await bounded(job.run())
        status, text = await get(f"{server.url}/metrics")
    assert status == 200
    lag = samples(text, "streamrt_kafka_consumer_lag")
    assert sorted(dict(k)["partition"] for k in lag) == ["0", "1", "2"]
    assert set(lag.values()) == {0.0}
    assert {dict(k)["topic"] for k in lag} == {source_topic}
    current = samples(text, "streamrt_kafka_source_current_offset")
    committed = samples(text, "streamrt_kafka_source_committed_offset")
    assert sum(current.values()) == sum(committed.values()) == 900  # committed on the clean end
    sent = samples(text, "streamrt_kafka_sink_records_sent_total")
    assert sum(sent.values()) == 900
    assert {dict(k)["topic"] for k in sent} == {target_topic}
