"""Durable checkpoints in a directory, restore (also at another parallelism), restarts."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from metrics.collector import StreamrtCollector
from streamrt import (
    CheckpointError,
    MapFunction,
    OperatorError,
    StreamExecutionEnvironment,
)
from streamrt.runtime.checkpoint_storage import FileSystemCheckpointStorage
from streamrt.runtime.completed_checkpoint import CompletedCheckpoint
from streamrt.runtime.restart_strategy import fixed_delay
from streamrt.testing import CollectSink, GatedSource
from tests.conftest import bounded, cancel_and_expect_cancelled

COUNT = 4_000
KEYS = 5


class FakeClock:
    """The restart loop's clock: time moves only when it sleeps; sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 1_000_000
        self.sleeps: list[int] = []

    def now_ms(self) -> int:
        return self.now

    async def sleep_ms(self, delay_ms: int) -> None:
        self.sleeps.append(delay_ms)
        self.now += delay_ms


def gated(limit: int = COUNT) -> GatedSource[int]:
    """The numbers ``0..COUNT-1``, read up to ``limit`` until the test moves the gate.

    Without the gate the bounded source may end before the test takes its checkpoint (a
    loaded CI machine did); with it, where the job stands at a checkpoint is exact.
    """
    return GatedSource(range(COUNT), limit)


class FailFirstAttempts(MapFunction[int, int]):
    """Fails on record ``at`` in each of the first ``failures`` attempts (runs of the job)."""

    attempts = 0

    def __init__(self, at: int, failures: int) -> None:
        self.at = at
        self.failures = failures

    def open(self, runtime_context: Any) -> None:
        FailFirstAttempts.attempts += 1
        self.attempt = FailFirstAttempts.attempts

    def map(self, value: int) -> int:
        if value == self.at and self.attempt <= self.failures:
            msg = f"boom in attempt {self.attempt}"
            raise RuntimeError(msg)
        return value


def keyed_job(
    env: StreamExecutionEnvironment,
    sink: CollectSink[Any],
    *,
    fail_at: int | None = None,
    failures: int = 0,
    reducer_parallelism: int | None = None,
    gate: GatedSource[int] | None = None,
) -> None:
    numbers = env.from_source(gate or gated(), source_name="numbers").set_parallelism(1)
    if fail_at is not None:
        FailFirstAttempts.attempts = 0
        numbers = numbers.map(FailFirstAttempts(fail_at, failures)).name("flaky")
    counted = (
        numbers.map(lambda i: (i % KEYS, 1))
        .name("pair")
        .key_by(lambda kv: kv[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .name("count")
        .uid("count")
    )
    if reducer_parallelism is not None:
        counted.set_parallelism(reducer_parallelism)
    counted.sink_to(sink).name("out").set_parallelism(1)


def final_counts(sink: CollectSink[tuple[int, int]]) -> dict[int, int]:
    finals: dict[int, int] = {}
    for key, total in sink.values:
        finals[key] = max(finals.get(key, 0), total)
    return finals


EXPECTED = dict(Tally(i % KEYS for i in range(COUNT)))


async def test_a_job_restarts_from_its_checkpoint_as_its_strategy_says() -> None:
    clock = FakeClock()
    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(20)
    env.set_restart_strategy(fixed_delay(attempts=2, delay_ms=750))
    sink: CollectSink[tuple[int, int]] = CollectSink()
    keyed_job(env, sink, fail_at=2_500, failures=2)
    job = env.create_job("flaky", clock=clock)
    result = await bounded(job.run())
    assert clock.sleeps == [750, 750]
    assert job.restarts == 2
    assert result.statistics.restarts == 2
    assert final_counts(sink) == EXPECTED  # restored state + replayed records: exact totals
    registry = CollectorRegistry()
    registry.register(StreamrtCollector(lambda: [job]))
    assert registry.get_sample_value("streamrt_job_restarts_total", {"job_name": "flaky"}) == 2.0


async def test_when_restarts_are_exhausted_the_job_fails_with_the_last_cause() -> None:
    clock = FakeClock()
    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(20)
    env.set_restart_strategy("fixed-delay:attempts=1,delay_ms=200")
    keyed_job(env, CollectSink(), fail_at=100, failures=3)
    job = env.create_job("gives up", clock=clock)
    with pytest.raises(OperatorError, match="boom in attempt 2") as info:
        await bounded(job.run())
    assert isinstance(info.value.__cause__, RuntimeError)
    assert clock.sleeps == [200]
    assert job.restarts == 1
    assert job.status.value == "failed"


async def test_without_checkpointing_a_failure_is_not_restarted() -> None:
    env = StreamExecutionEnvironment()
    keyed_job(env, CollectSink(), fail_at=10, failures=1)
    job = env.create_job("no restart")
    with pytest.raises(OperatorError, match="boom in attempt 1"):
        await bounded(job.run())
    assert job.restarts == 0


async def test_checkpoints_in_a_directory_restore_a_new_job_exactly(tmp_path: Path) -> None:
    directory = tmp_path / "chk"
    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(3_600_000, storage=directory, retained=2)
    sink: CollectSink[tuple[int, int]] = CollectSink()
    gate = gated(limit=500)
    keyed_job(env, sink, gate=gate)
    job = env.create_job("durable")
    running = asyncio.create_task(job.run())
    await sink.wait_for(500)
    first = await bounded(job.checkpoint())
    gate.open_to(1_500)
    await sink.wait_for(1_500)
    second = await bounded(job.checkpoint())
    await cancel_and_expect_cancelled((job, running))
    assert (first.checkpoint_id, second.checkpoint_id) == (1, 2)
    storage = FileSystemCheckpointStorage(directory)
    assert storage.latest() == second.location
    assert sorted(p.name for p in directory.iterdir()) == ["chk-1", "chk-2"]
    restored = CompletedCheckpoint.load(second.location or "")
    assert restored.blobs == second.blobs

    env2 = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env2.enable_checkpointing(3_600_000, storage=directory)
    sink2: CollectSink[tuple[int, int]] = CollectSink()
    keyed_job(env2, sink2)
    job2 = env2.create_job("durable", restore_from=second.location)
    await bounded(job2.run())
    assert final_counts(sink2) == EXPECTED
    assert len(sink.values) == 1_500
    # the restored run emits exactly what the checkpoint had not yet counted
    counted_at_checkpoint = sum(
        v[1] for v in restored.operator_states("count")[0]["keyed"]["tables"]["reduce"].values()
    )
    assert len(sink2.values) == COUNT - counted_at_checkpoint
    # ids continue after the restored checkpoint, in the same directory
    assert job2.coordinator is not None
    assert job2.coordinator.latest is not None
    assert job2.coordinator.latest.checkpoint_id == 2  # none taken: the run was short


@pytest.mark.parametrize("parallelisms", [(1, 3), (3, 2), (2, 1)])
async def test_keyed_state_is_redistributed_by_key_group(
    tmp_path: Path, parallelisms: tuple[int, int]
) -> None:
    before, after = parallelisms
    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(3_600_000)
    sink: CollectSink[tuple[int, int]] = CollectSink()
    keyed_job(env, sink, reducer_parallelism=before, gate=gated(limit=1_000))
    job = env.create_job("rescale")
    running = asyncio.create_task(job.run())
    await sink.wait_for(1_000)
    savepoint = await bounded(job.savepoint(tmp_path / "savepoints"))
    await cancel_and_expect_cancelled((job, running))
    assert savepoint.location is not None
    assert Path(savepoint.location).parent == tmp_path / "savepoints"
    assert len(savepoint.operator_states("count")) == before

    env2 = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env2.enable_checkpointing(3_600_000)
    sink2: CollectSink[tuple[int, int]] = CollectSink()
    gate2 = gated(limit=2_000)
    keyed_job(env2, sink2, reducer_parallelism=after, gate=gate2)
    job2 = env2.create_job("rescale", restore_from=savepoint.location)
    running2 = asyncio.create_task(job2.run())
    await sink2.wait_for(1_000)  # records 1,000..1,999: past the savepoint
    again = await bounded(job2.savepoint(tmp_path / "savepoints"))
    gate2.open_to(COUNT)
    await bounded(running2)
    states = again.operator_states("count")
    assert len(states) == after
    keys_per_subtask = [set(s["keyed"]["tables"]["reduce"]) for s in states]
    all_keys = [k for keys in keys_per_subtask for k in keys]
    assert len(all_keys) == len(set(all_keys))  # every key exactly once
    assert final_counts(sink2) == EXPECTED


async def test_a_corrupt_checkpoint_is_refused_naming_the_file(tmp_path: Path) -> None:
    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(3_600_000, storage=tmp_path)
    sink: CollectSink[tuple[int, int]] = CollectSink()
    keyed_job(env, sink, gate=gated(limit=200))
    job = env.create_job("corrupt")
    running = asyncio.create_task(job.run())
    await sink.wait_for(200)
    checkpoint = await bounded(job.checkpoint())
    await cancel_and_expect_cancelled((job, running))
    assert checkpoint.location is not None
    metadata = Path(checkpoint.location) / "_metadata"
    metadata.write_bytes(metadata.read_bytes()[:40])
    env2 = StreamExecutionEnvironment()
    keyed_job(env2, CollectSink())
    with pytest.raises(CheckpointError, match=f"{metadata}.* is truncated"):
        env2.create_job("corrupt", restore_from=checkpoint.location)


async def test_stop_takes_a_final_checkpoint_and_a_restore_continues_without_duplicates(
    tmp_path: Path,
) -> None:
    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(3_600_000, storage=tmp_path)
    sink: CollectSink[tuple[int, int]] = CollectSink()
    keyed_job(env, sink, gate=gated(limit=1_000))
    job = env.create_job("stops")
    running = asyncio.create_task(job.run())
    await sink.wait_for(1_000)
    job.stop()
    result = await bounded(running)
    final = result.latest_checkpoint
    assert final is not None
    assert final.location == FileSystemCheckpointStorage(tmp_path).latest()
    assert job.status.value == "finished"
    counted = sum(
        v[1] for v in final.operator_states("count")[0]["keyed"]["tables"]["reduce"].values()
    )
    assert counted == len(sink.values)  # the barrier was the last thing the source emitted

    env2 = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env2.enable_checkpointing(3_600_000, storage=tmp_path)
    sink2: CollectSink[tuple[int, int]] = CollectSink()
    keyed_job(env2, sink2)
    await bounded(env2.create_job("stops", restore_from=final).run())
    assert len(sink.values) + len(sink2.values) == COUNT  # nothing twice, nothing lost
    assert final_counts(sink2) == EXPECTED


def test_stateful_operators_without_uid_are_named_in_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = StreamExecutionEnvironment()
    env.enable_checkpointing(1_000)
    env.from_collection([1]).key_by(lambda v: v).reduce(lambda a, b: a).name("sum").print()
    with caplog.at_level("WARNING", logger="streamrt.runtime.completed_checkpoint"):
        env.create_job("anonymous")
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(
        "job 'anonymous': stateful operators without uid(): 'Source: Collection Source' (stored "
        "as '1-source-collection-source'), 'sum' (stored as '2-sum'); their state is found"
    )
