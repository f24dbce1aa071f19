"""A job edge through a Kafka topic behaves like a local edge: records, watermarks, barriers."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter as Tally
from typing import Any

import pytest

from streamrt import StreamExecutionEnvironment, WatermarkStrategy
from streamrt.testing import CollectSink, GatedSource, ListSource
from tests.conftest import bounded
from tests.e2e.test_event_time import WINDOW, Punctuated, TumblingCount, events
from tests.integration.conftest import Kafka

pytestmark = pytest.mark.kafka


def windowed_counts(
    env: StreamExecutionEnvironment,
    data: list[dict[str, Any]],
    kafka_topic: str | None,
    bootstrap: str,
) -> CollectSink[tuple[str, int, int]]:
    strategy = WatermarkStrategy.for_generator(
        lambda: Punctuated(lateness=20)
    ).with_timestamp_assigner(lambda e, _: e["t"])
    sink: CollectSink[tuple[str, int, int]] = CollectSink()
    keyed = env.from_source(ListSource(data, batch_size=40), strategy, "events").key_by(
        lambda e: e["user"]
    )
    if kafka_topic is not None:
        keyed = keyed.through_kafka(kafka_topic, bootstrap_servers=bootstrap)
    keyed.process(TumblingCount()).name("tumbling count").sink_to(sink)
    return sink


@pytest.mark.parametrize("parallelism", [1, 3])
async def test_event_time_results_through_kafka_equal_a_local_edge(
    kafka: Kafka, parallelism: int
) -> None:
    data = events(2_000, seed=parallelism)
    topic = f"edge-{uuid.uuid4().hex[:8]}"

    local_env = StreamExecutionEnvironment(parallelism=parallelism, buffer_timeout_ms=10)
    local = windowed_counts(local_env, data, None, kafka.bootstrap)
    await bounded(local_env.execute_async("local edge"))

    kafka_env = StreamExecutionEnvironment(parallelism=parallelism, buffer_timeout_ms=10)
    through = windowed_counts(kafka_env, data, topic, kafka.bootstrap)
    plan = kafka_env.get_execution_plan("kafka edge")
    assert f"via HASH, kafka topic '{topic}'" in plan
    result = await bounded(kafka_env.execute_async("kafka edge"))

    expected = Tally((e["user"], (e["t"] // WINDOW + 1) * WINDOW) for e in data)
    assert sorted(through.values) == sorted(local.values)
    assert {(u, end): n for u, end, n in through.values} == dict(expected)
    assert len(through.values) == len(expected)  # no window fired twice: watermarks crossed
    counts = result.statistics.operator("tumbling count")
    assert counts.records_in == len(data)
    assert counts.current_input_watermark == 2**63 - 1  # the final watermark crossed too
    ends = await kafka.end_offsets(topic)
    assert sorted(ends) == list(range(parallelism))  # one partition per consumer subtask


async def test_checkpoints_align_across_a_kafka_edge(kafka: Kafka) -> None:
    topic = f"edge-{uuid.uuid4().hex[:8]}"
    env = StreamExecutionEnvironment(parallelism=2, buffer_timeout_ms=10)
    env.enable_checkpointing(30)
    sink: CollectSink[tuple[int, int]] = CollectSink()
    gate = GatedSource(range(6_000), limit=500)  # the source runs on only after the checkpoint
    (
        env.from_source(gate, source_name="numbers")
        .map(lambda v: (v % 7, 1))
        .key_by(lambda kv: kv[0])
        .through_kafka(topic, bootstrap_servers=kafka.bootstrap)
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .name("count")
        .sink_to(sink)
    )
    job = env.create_job("checkpointed edge")
    running = asyncio.create_task(job.run())
    await sink.wait_for(1_000)
    checkpoint = await bounded(job.checkpoint())
    gate.open_to(6_000)
    result = await bounded(running)
    finals: dict[int, int] = {}
    for key, total in sink.values:
        finals[key] = max(finals.get(key, 0), total)
    assert finals == dict(Tally(v % 7 for v in range(6_000)))
    assert result.statistics.checkpoints.completed >= 1
    # both consumer subtasks took the checkpoint after the barriers of both producers, and
    # recorded where each barrier sat in their partition
    external = [s["external"][0] for s in checkpoint.task_snapshots() if "external" in s]
    assert sorted(e["partition"] for e in external) == [0, 1]
    assert all(sorted(e["barriers"]) == [0, 1] for e in external)


async def test_client_settings_reach_the_clients_of_an_edge(kafka: Kafka) -> None:
    # producer-only and consumer-only keys must not reach the admin client that makes the topic
    topic = f"edge-{uuid.uuid4().hex[:8]}"
    env = StreamExecutionEnvironment(parallelism=2, buffer_timeout_ms=10)
    sink: CollectSink[int] = CollectSink()
    (
        env.from_source(ListSource(list(range(500)), batch_size=50), source_name="numbers")
        .key_by(lambda v: v % 5)
        .through_kafka(
            topic,
            bootstrap_servers=kafka.bootstrap,
            producer_settings={"linger_ms": 1},
            consumer_settings={"fetch_max_wait_ms": 50},
        )
        .map(lambda v: v * 2)
        .sink_to(sink)
    )
    await bounded(env.execute_async("edge with client settings"))
    assert sorted(sink.values) == [v * 2 for v in range(500)]
    assert sorted(await kafka.end_offsets(topic)) == [0, 1]
