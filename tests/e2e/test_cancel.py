"""Cancelling a job (or Ctrl-C on the CLI) stops every task and closes every operator."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamrt import (
    DataGeneratorSource,
    JobCancelledError,
    MapFunction,
    StreamExecutionEnvironment,
)
from streamrt.runtime.sink_writer import SinkWriterBase
from streamrt.runtime.status import ExecutionStatus as TaskStatus
from streamrt.testing import CollectSink
from tests.conftest import bounded

ROOT = Path(__file__).resolve().parents[2]
CLOSED: list[str] = []


class Tracked(MapFunction[int, int]):
    def __init__(self, name: str) -> None:
        self.name = name

    def map(self, value: int) -> int:
        return value

    def close(self) -> None:
        CLOSED.append(self.name)


class Started(SinkWriterBase):
    """A sink that reports once it has seen a record."""

    def __init__(self) -> None:
        self.seen = asyncio.Event()

    def create_writer(self, context: Any) -> Started:
        return self

    def write(self, value: Any, timestamp: int | None) -> None:
        self.seen.set()


async def test_cancel_stops_every_task_and_closes_every_operator(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    CLOSED.clear()
    env = env_factory(parallelism=2)
    started = Started()
    (
        env.from_source(DataGeneratorSource(lambda i: i), source_name="endless")
        .map(Tracked("before"))
        .key_by(lambda v: v % 3)
        .map(Tracked("after"))
        .sink_to(started)
    )
    job = env.create_job("endless")
    running = asyncio.create_task(job.run())
    await bounded(started.seen.wait())
    job.cancel()
    with pytest.raises(JobCancelledError, match="job 'endless' was cancelled"):
        await bounded(running)
    assert job.status.value == "canceled"
    assert {t.status for t in job.tasks} == {TaskStatus.CANCELED}
    assert sorted(CLOSED) == ["after", "after", "before", "before"]


async def test_cancelling_the_awaiting_task_propagates_cancellation(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory()
    started = Started()
    env.from_source(DataGeneratorSource(lambda i: i)).sink_to(started)
    running = asyncio.create_task(env.execute_async("endless"))
    await bounded(started.seen.wait())
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bounded(running)
    assert env.last_job is not None
    assert {t.status for t in env.last_job.tasks} == {TaskStatus.CANCELED}


async def test_graceful_stop_drains_and_finishes(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    sink: CollectSink[int] = CollectSink()
    started = Started()
    source = env.from_source(DataGeneratorSource(lambda i: i), source_name="endless")
    source.sink_to(started)
    source.key_by(lambda v: v % 5).map(lambda v: v).sink_to(sink)
    job = env.create_job("stoppable")
    running = asyncio.create_task(job.run())
    await bounded(started.seen.wait())
    job.stop()
    result = await bounded(running)
    assert job.status.value == "finished"
    read = sum(o.records_in for o in result.statistics.operators if o.operator == "Source: endless")
    assert len(sink.values) == read  # nothing in flight was lost
    assert sorted(sink.values) == sorted(set(sink.values))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_on_the_cli_stops_the_job(tmp_path: Path) -> None:
    module = tmp_path / "endless_job.py"
    module.write_text(
        textwrap.dedent(
            """
            from streamrt import DataGeneratorSource
            from streamrt.testing import CollectSink

            class Announce(CollectSink):
                def create_writer(self, context):
                    print("RUNNING", flush=True)
                    return super().create_writer(context)

            def build(env):
                env.from_source(DataGeneratorSource(lambda i: i)).map(lambda v: v).sink_to(
                    Announce()
                )
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "streamrt.cli", "run", "endless_job:build", "--metrics-port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "RUNNING"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "cancelled by Ctrl-C" in err
