"""Aligned barriers cut a consistent snapshot; a job restored from it finishes exactly."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any

import pytest

from streamrt import (
    CheckpointError,
    CompletedCheckpoint,
    ConfigError,
    DataGeneratorSource,
    StreamExecutionEnvironment,
)
from streamrt.runtime.checkpoint_encoding import encode
from streamrt.runtime.completed_checkpoint import operator_uid
from streamrt.testing import CollectSink, GatedSource
from tests.conftest import bounded, cancel_and_expect_cancelled

COUNT = 6_000
KEYS = 7


def build(
    env: StreamExecutionEnvironment, sink: CollectSink[Any], gate: GatedSource[int] | None = None
) -> None:
    numbers = gate or DataGeneratorSource(
        lambda i: i, COUNT, records_per_second=30_000, batch_size=50
    )
    (
        env.from_source(numbers, source_name="numbers")
        .map(lambda i: (i % KEYS, 1))
        .name("pair")
        .key_by(lambda kv: kv[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .name("count")
        .sink_to(sink)
        .name("out")
    )


def positions_of(checkpoint: CompletedCheckpoint) -> dict[str, int]:
    """Every split's position in the checkpoint (from the source tasks' snapshots)."""
    positions: dict[str, int] = {}
    for snapshot in checkpoint.task_snapshots():
        positions.update(snapshot.get("positions", {}))
    return positions


@pytest.mark.parametrize("parallelism", [1, 2])
async def test_checkpoint_is_consistent_and_restore_finishes_exactly(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int
) -> None:
    env = env_factory(parallelism=parallelism)
    env.enable_checkpointing(3_600_000)  # only the checkpoint the test triggers
    sink: CollectSink[Any] = CollectSink()
    build(env, sink, GatedSource(range(COUNT), limit=1_000 // parallelism))
    job = env.create_job("counting")
    count = next(n for v in job.graph.vertices for n in v.nodes if n.name == "count")
    running = asyncio.create_task(job.run())
    await sink.wait_for(1_000)
    checkpoint = await bounded(job.checkpoint())
    await cancel_and_expect_cancelled((job, running))

    # the source positions say how many records each generator subtask had emitted at the
    # barrier; the keyed counts in the snapshot must be exactly those records' counts
    positions = positions_of(checkpoint)
    splits = [f"list-{i}-of-{parallelism}" for i in range(parallelism)]
    assert sorted(positions) == splits
    emitted = [s + k * parallelism for s in range(parallelism) for k in range(positions[splits[s]])]
    expected = Tally(i % KEYS for i in emitted)
    tables: dict[int, tuple[int, int]] = {}
    for operator_state in checkpoint.operator_states(operator_uid(count)):
        tables.update(operator_state["keyed"]["tables"]["reduce"])
    assert {k: v[1] for k, v in tables.items()} == dict(expected)
    assert sum(positions.values()) == 1_000  # the gate held the source there
    assert checkpoint.size_bytes == sum(len(b) for b in checkpoint.blobs.values())
    assert job.statistics().checkpoints.completed == 1

    # a new job from the same pipeline, restored: every key ends at its exact total
    env2 = env_factory(parallelism=parallelism)
    env2.enable_checkpointing(3_600_000)
    sink2: CollectSink[tuple[int, int]] = CollectSink()
    build(env2, sink2, GatedSource(range(COUNT), limit=COUNT))
    await bounded(env2.create_job("counting", restore_from=checkpoint).run())
    finals: dict[int, int] = {}
    for key, total in sink2.values:
        finals[key] = max(finals.get(key, 0), total)
    assert finals == dict(Tally(i % KEYS for i in range(COUNT)))
    assert len(sink2.values) == COUNT - sum(positions.values())  # nothing replayed twice


async def test_a_checkpoint_that_does_not_fit_the_job_is_refused(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    env.from_collection([1]).sink_to(CollectSink())
    gone = {"uid": "gone", "name": "Gone", "max_parallelism": 128, "keyed": True}
    task = {"uid": "gone", "name": "Gone", "parallelism": 1, "operators": [gone]}
    metadata = {"job": "x", "savepoint": False, "tasks": [{**task, "blobs": ["task-0-0"]}]}
    state = {"keyed": {"kinds": {"v": "value"}, "tables": {"v": {"k": 1}}}}
    bogus = CompletedCheckpoint(
        3, 0, metadata, {"task-0-0": encode({"operators": {"gone": state}})}
    )
    with pytest.raises(
        CheckpointError,
        match="checkpoint 3 has state for operator uid\\(s\\) 'gone' \\('Gone'\\) that this job",
    ):
        await env.create_job("x", restore_from=bogus).run()


async def test_checkpoint_without_checkpointing_is_a_clear_error(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory()
    env.from_collection([1]).sink_to(CollectSink())
    job = env.create_job("x")
    with pytest.raises(ConfigError, match="checkpointing is off"):
        job.trigger_checkpoint()


async def test_periodic_checkpoints_complete_while_the_job_runs(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    env.enable_checkpointing(20)
    sink: CollectSink[Any] = CollectSink()
    build(env, sink)
    result = await bounded(env.execute_async("periodic"))
    stats = result.statistics.checkpoints
    # how many 20 ms checkpoints fit in the run depends on timing (the 6 000 records take
    # about 200 ms at 30 000/s); at least two is what the test needs to see them repeat
    assert stats.completed >= 2
    assert stats.failed == 0
    assert result.latest_checkpoint is not None
    assert result.latest_checkpoint.checkpoint_id == stats.last_completed_id
