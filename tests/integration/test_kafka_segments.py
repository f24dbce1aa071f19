"""One job split at its Kafka-topic edge into two segments, each run as its own job (as two
processes would): records, watermarks and end of input cross; each segment checkpoints and
commits on its own."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter as Tally

import pytest

from streamrt import ConfigError, StreamExecutionEnvironment
from streamrt.testing import CollectSink
from tests.conftest import bounded, wait_until
from tests.e2e.test_event_time import WINDOW, events
from tests.integration.conftest import Kafka
from tests.integration.test_kafka_edge import windowed_counts

pytestmark = pytest.mark.kafka


async def test_segments_in_separate_jobs_compute_what_one_job_computes(kafka: Kafka) -> None:
    data = events(3_000, seed=5)
    topic = f"seg-{uuid.uuid4().hex[:8]}"
    name = f"split-{uuid.uuid4().hex[:6]}"  # the edge's consumer group derives from it

    def environment() -> tuple[StreamExecutionEnvironment, CollectSink[tuple[str, int, int]]]:
        env = StreamExecutionEnvironment(parallelism=2, buffer_timeout_ms=10)
        env.enable_checkpointing(50)
        return env, windowed_counts(env, data, topic, kafka.bootstrap)

    upstream_env, _ = environment()
    assert "2 segments" in upstream_env.get_execution_plan(name)
    upstream = upstream_env.create_job(name, segment=0)
    downstream_env, sink = environment()
    downstream = downstream_env.create_job(name, segment=1)
    assert [v.name for t in upstream.graph.vertices for v in [t]] == [
        "Source: events",
        "tumbling count -> Sink: CollectSink",
    ]
    running = asyncio.gather(upstream.run(), downstream.run())
    # a checkpoint of the downstream process alone: its barrier enters at the edge's pumps
    await wait_until(
        lambda: (
            downstream.tasks != []
            and downstream.statistics().operator("tumbling count").records_in > 0
        ),
        what="records across the edge",
    )
    checkpoint = await bounded(downstream.checkpoint())
    results = await bounded(running, 60)

    expected = Tally((e["user"], (e["t"] // WINDOW + 1) * WINDOW) for e in data)
    assert {(u, end): n for u, end, n in sink.values} == dict(expected)
    assert len(sink.values) == len(expected)  # watermarks crossed: no window fired twice
    assert [t.name for t in upstream.tasks] == ["Source: events"] * 2
    assert [t.name for t in downstream.tasks] == ["tumbling count -> Sink: CollectSink"] * 2
    offsets = [s["external"][0]["offset"] for s in checkpoint.task_snapshots() if "external" in s]
    assert len(offsets) == 2 and all(o is not None for o in offsets)
    assert results[1].statistics.checkpoints.completed >= 1
    edge_id = downstream.graph.edges[0].edge_id
    committed = await kafka.committed(topic, f"streamrt-{name}-edge{edge_id}")
    ends = await kafka.end_offsets(topic)
    assert committed == ends  # the clean finish committed everything it consumed


def test_an_unknown_segment_is_named(kafka: Kafka) -> None:
    env = StreamExecutionEnvironment()
    windowed_counts(env, events(10, seed=1), "t", kafka.bootstrap)
    job = env.create_job("x", segment=7)
    with pytest.raises(ConfigError, match=r"job 'x' has segments 0..1 .* there is no segment 7"):
        asyncio.run(job.run())
