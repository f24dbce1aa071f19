"""Runs a job graph: channels, tasks, one TaskGroup, checkpoints, statistics.

Architecture §2: one asyncio task per parallel subtask of each chain, all under one
``asyncio.TaskGroup`` (house style C8), so a failing task cancels the others and the job fails
with that task's error, which names the operator and subtask. Channels connect the subtasks of
neighbouring chains: all-to-all for most partitioners, pointwise for FORWARD and RESCALE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from streamrt.errors import (
    ChannelClosedError,
    CheckpointError,
    ConfigError,
    JobCancelledError,
    StreamrtError,
)
from streamrt.runtime.channel import DEFAULT_CHANNEL_CAPACITY, LocalChannel
from streamrt.runtime.checkpoint_coordinator import CheckpointCoordinator, CompletedCheckpoint
from streamrt.runtime.external_channel import (
    ExternalChannelContext,
    ExternalChannelPump,
    ExternalChannelSpec,
)
from streamrt.runtime.input_task import InputTask
from streamrt.runtime.job_graph import JobEdge, JobGraph, JobVertex
from streamrt.runtime.record_writer import DEFAULT_BUFFER_SIZE, RecordWriter, create_record_writer
from streamrt.runtime.source_task import SourceTask
from streamrt.runtime.statistics import (
    ChannelStatistics,
    CheckpointStatistics,
    ConnectorMetric,
    ConnectorSample,
    JobStatistics,
    OperatorStatistics,
    TaskStatistics,
)
from streamrt.runtime.task import StreamTask, TaskConfig, TaskStatus

__all__ = ["Job", "JobConfig", "JobExecutionResult", "JobStatus"]

logger = logging.getLogger(__name__)


class JobStatus(Enum):
    """Lifecycle of a job (Flink's ``JobStatus``, abridged)."""

    CREATED = "created"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class JobConfig:
    """How a job runs.

    Attributes:
        object_reuse: chained operators pass records without copying (see docs).
        buffer_timeout_ms: flush interval of channel buffers; 0 = every record; -1 = when full.
        buffer_size: records per channel buffer.
        channel_capacity: buffers a channel holds before its producer waits.
        auto_watermark_interval_ms: how often sources emit watermarks.
        latency_tracking_interval_ms: how often sources emit latency markers (0 = off).
        checkpoint_interval_ms: ``None`` = checkpointing off.
        checkpoint_timeout_ms: a checkpoint not complete by then fails.
    """

    object_reuse: bool = False
    buffer_timeout_ms: int = 100
    buffer_size: int = DEFAULT_BUFFER_SIZE
    channel_capacity: int = DEFAULT_CHANNEL_CAPACITY
    auto_watermark_interval_ms: int = 200
    latency_tracking_interval_ms: int = 0
    checkpoint_interval_ms: int | None = None
    checkpoint_timeout_ms: int = 600_000

    def __post_init__(self) -> None:
        if self.buffer_timeout_ms < -1:
            msg = f"buffer_timeout_ms must be -1, 0 or positive; got {self.buffer_timeout_ms}"
            raise ConfigError(msg)
        for name in ("buffer_size", "channel_capacity"):
            if getattr(self, name) < 1:
                msg = f"{name} must be >= 1; got {getattr(self, name)}"
                raise ConfigError(msg)
        if self.auto_watermark_interval_ms < 0 or self.latency_tracking_interval_ms < 0:
            msg = "watermark and latency intervals must be >= 0 ms"
            raise ConfigError(msg)
        if self.checkpoint_interval_ms is not None and self.checkpoint_interval_ms < 10:
            msg = f"checkpoint_interval_ms must be >= 10; got {self.checkpoint_interval_ms}"
            raise ConfigError(msg)


@dataclass(frozen=True)
class JobExecutionResult:
    """What a finished job reports (Flink's ``JobExecutionResult``)."""

    job_name: str
    net_runtime_seconds: float
    statistics: JobStatistics
    latest_checkpoint: CompletedCheckpoint | None


class Job:
    """One run of a job graph.

    Create it, then ``await job.run()``; meanwhile ``statistics()``, ``stop()``, ``cancel()``
    and ``trigger_checkpoint()`` may be called from the same event loop.
    """

    def __init__(
        self,
        graph: JobGraph,
        config: JobConfig | None = None,
        restored: CompletedCheckpoint | None = None,
        *,
        segment: int | None = None,
    ) -> None:
        self.graph = graph
        self.segment = segment
        self.config = config or JobConfig()
        self._restored = restored
        self.status = JobStatus.CREATED
        self.tasks: list[StreamTask] = []
        self.channels: list[tuple[JobEdge, int, int, LocalChannel]] = []
        self.coordinator: CheckpointCoordinator | None = None
        self.started = asyncio.Event()
        self.failure: BaseException | None = None
        self._run_task: asyncio.Task[Any] | None = None
        self._cancel_requested = False
        self._ended_tasks = 0
        self._start_ns = 0
        self._end_ns = 0
        self._external: list[tuple[ExternalChannelSpec, ExternalChannelContext]] = []

    @property
    def name(self) -> str:
        """The job's name."""
        return self.graph.name

    # -- building -----------------------------------------------------------------------------
    def _build(self) -> None:
        config = self.config
        task_config = TaskConfig(
            buffer_timeout_ms=config.buffer_timeout_ms,
            auto_watermark_interval_ms=config.auto_watermark_interval_ms,
            latency_tracking_interval_ms=config.latency_tracking_interval_ms,
            object_reuse=config.object_reuse,
            job_name=self.graph.name,
        )
        buffer_size = 1 if config.buffer_timeout_ms == 0 else config.buffer_size
        inputs: dict[tuple[int, int], list[LocalChannel]] = {}
        pumps: dict[tuple[int, int], list[ExternalChannelPump]] = {}
        writers: dict[tuple[int, int], dict[int, RecordWriter]] = {}
        segments = self.graph.segments()
        if self.segment is not None and self.segment not in segments.values():
            msg = (
                f"job {self.name!r} has segments 0..{max(segments.values())} (split at its "
                f"Kafka-topic edges); there is no segment {self.segment}"
            )
            raise ConfigError(msg)

        def mine(vertex: JobVertex) -> bool:
            return self.segment is None or segments[vertex.vertex_id] == self.segment

        for edge in self.graph.edges:
            up, down = edge.source_vertex, edge.target_vertex
            if edge.channel is not None:
                if mine(up) or mine(down):
                    self._build_external_edge(
                        edge,
                        buffer_size,
                        inputs,
                        pumps,
                        writers,
                        produce=mine(up),
                        consume=mine(down),
                    )
                continue
            if not mine(up):
                continue
            for producer in range(up.parallelism):
                channels = []
                for consumer in edge.connected_consumers(producer):
                    channel = LocalChannel(
                        config.channel_capacity,
                        f"{up.name}[{producer}] -> {down.name}[{consumer}]",
                    )
                    channels.append(channel)
                    inputs.setdefault((down.vertex_id, consumer), []).append(channel)
                    self.channels.append((edge, producer, consumer, channel))
                writers.setdefault((up.vertex_id, producer), {})[edge.edge_id] = (
                    create_record_writer(
                        channels,
                        edge.partitioner,
                        buffer_size=buffer_size,
                        copy_values=not config.object_reuse,
                        description=f"{up.name} -> {down.name}",
                    )
                )
        restored_states = self._restored.states if self._restored else {}
        expected = {
            (v.vertex_id, i) for v in self.graph.vertices if mine(v) for i in range(v.parallelism)
        }
        unknown = sorted(set(restored_states) - expected)
        if unknown:
            assert self._restored is not None
            msg = (
                f"checkpoint {self._restored.checkpoint_id} does not fit job {self.name!r}: it "
                f"has state for (task, subtask) {unknown} the job does not have; restore into "
                "the same pipeline with the same parallelism"
            )
            raise CheckpointError(msg)
        for vertex in self.graph.vertices:
            if not mine(vertex):
                continue
            for subtask in range(vertex.parallelism):
                key = (vertex.vertex_id, subtask)
                task_writers = writers.get(key, {})
                restored = restored_states.get(key)
                task: StreamTask
                if vertex.is_source:
                    task = SourceTask(vertex, subtask, task_writers, task_config, self, restored)
                else:
                    task = InputTask(
                        vertex,
                        subtask,
                        task_writers,
                        task_config,
                        self,
                        inputs[key],
                        restored,
                        pumps=pumps.get(key, ()),
                    )
                self.tasks.append(task)
        if config.checkpoint_interval_ms is not None:
            self.coordinator = CheckpointCoordinator(
                self.tasks, config.checkpoint_interval_ms, config.checkpoint_timeout_ms
            )

    def _build_external_edge(
        self,
        edge: JobEdge,
        buffer_size: int,
        inputs: dict[tuple[int, int], list[LocalChannel]],
        pumps: dict[tuple[int, int], list[ExternalChannelPump]],
        writers: dict[tuple[int, int], dict[int, RecordWriter]],
        *,
        produce: bool = True,
        consume: bool = True,
    ) -> None:
        # producers write to the external system; each consumer gets one local channel per
        # producer, fed by its pump, so its gate sees the edge exactly as a local one; when
        # only one end runs here (a job split into segments), the other end is remote
        spec: ExternalChannelSpec = edge.channel
        up, down = edge.source_vertex, edge.target_vertex
        name = f"{up.name} -> {down.name}"

        def context(subtask: int) -> ExternalChannelContext:
            return ExternalChannelContext(
                self.graph.name,
                edge.edge_id,
                name,
                up.parallelism,
                down.parallelism,
                subtask,
                edge.partitioner,
                buffer_size,
                remote=not (produce and consume),
            )

        self._external.append((spec, context(0)))
        for producer in range(up.parallelism if produce else 0):
            writers.setdefault((up.vertex_id, producer), {})[edge.edge_id] = spec.create_writer(
                context(producer)
            )
        for consumer in range(down.parallelism if consume else 0):
            channels = [
                LocalChannel(
                    self.config.channel_capacity,
                    f"{up.name}[{producer}] -> {spec.kind} -> {down.name}[{consumer}]",
                )
                for producer in range(up.parallelism)
            ]
            inputs.setdefault((down.vertex_id, consumer), []).extend(channels)
            for producer, channel in enumerate(channels):
                self.channels.append((edge, producer, consumer, channel))
            pumps.setdefault((down.vertex_id, consumer), []).append(
                spec.create_pump(context(consumer), channels)
            )

    async def _prepare_external(self) -> None:
        # topics exist and every pump is positioned before any producer of this run writes
        for spec, context in self._external:
            await spec.prepare(context)
        for task in self.tasks:
            if isinstance(task, InputTask):
                await task.start_pumps()

    # -- running ------------------------------------------------------------------------------
    async def run(self) -> JobExecutionResult:
        """Run until every task has finished.

        Raises:
            OperatorError: an operator failed (names it and the subtask; ``__cause__`` is the
                original exception).
            JobCancelledError: ``cancel()`` was called.
        """
        if self.status is not JobStatus.CREATED:
            msg = f"job {self.name!r} has already run; build a new one to run again"
            raise StreamrtError(msg)
        self._run_task = asyncio.current_task()
        self._start_ns = time.perf_counter_ns()
        self.status = JobStatus.RUNNING
        try:
            self._build()
            try:
                await self._prepare_external()
            except BaseException:
                for task in self.tasks:  # tasks that never ran still hold started pumps
                    await task.release()
                raise
            async with asyncio.TaskGroup() as group:
                for task in self.tasks:
                    group.create_task(task.run(), name=repr(task))
                if self.coordinator is not None:
                    group.create_task(self.coordinator.run(), name="checkpoint-coordinator")
                self.started.set()
        except asyncio.CancelledError:
            self.status = JobStatus.CANCELED
            if self._cancel_requested and self._run_task is not None:
                self._run_task.uncancel()
                msg = f"job {self.name!r} was cancelled"
                raise JobCancelledError(msg) from None
            raise
        except BaseExceptionGroup as group_error:
            self.status = JobStatus.FAILED
            self.failure = _root_cause(group_error)
            # re-raised as is: its __cause__ (the user's exception) must survive
            raise self.failure  # noqa: B904
        except BaseException as exc:
            self.status = JobStatus.FAILED
            self.failure = exc
            raise
        finally:
            self.started.set()
            self._end_ns = time.perf_counter_ns()
            await self._finalize_sources(job_finished=self.failure is None and self.tasks_done)
        self.status = JobStatus.FINISHED
        return JobExecutionResult(
            self.name,
            (time.perf_counter_ns() - self._start_ns) / 1e9,
            self.statistics(),
            self.coordinator.latest if self.coordinator else None,
        )

    @property
    def tasks_done(self) -> bool:
        """Whether every task finished (none failed or was cancelled)."""
        return bool(self.tasks) and all(t.status is TaskStatus.FINISHED for t in self.tasks)

    async def _finalize_sources(self, *, job_finished: bool) -> None:
        # sources commit their final offsets only now, when every sink has flushed
        # (at-least-once); all commit before any disconnects, because a reader leaving its
        # consumer group makes the group rebalance and refuse the others' commits meanwhile
        errors: list[Exception] = []

        async def each(
            tasks: list[StreamTask], call: Callable[[StreamTask], Awaitable[None]]
        ) -> None:
            for task in tasks:  # every task gets its call; the first error is raised later
                try:
                    await call(task)
                except Exception as exc:
                    errors.append(exc)

        if job_finished:
            entries = [t for t in self.tasks if t.checkpoint_entry]
            await each(entries, lambda t: t.commit_final_positions())
        await each(self.tasks, lambda t: t.close_reader())
        if errors and job_finished:
            raise errors[0]

    def cancel(self) -> None:
        """Cancel every task now (no final flush, no end-of-input processing)."""
        if self._run_task is not None and not self._run_task.done():
            self._cancel_requested = True
            self._run_task.cancel()

    def stop(self, *, drain: bool = False) -> None:
        """Stop gracefully and end FINISHED.

        Sources stop reading; everything in flight is processed and flushed; operators finish.

        Args:
            drain: also send the final MAX watermark, firing every pending event-time timer
                (Flink's ``stop --drain``).
        """
        for task in self.tasks:
            if isinstance(task, SourceTask):
                task.request_stop(drain=drain)

    def trigger_checkpoint(self) -> int | None:
        """Start a checkpoint now (checkpointing must be enabled); its id, or ``None`` if busy."""
        if self.coordinator is None:
            msg = "checkpointing is off; call env.enable_checkpointing(interval_ms) first"
            raise ConfigError(msg)
        return self.coordinator.trigger()

    async def checkpoint(self) -> CompletedCheckpoint:
        """Take a checkpoint now and wait for it (Flink's savepoint trigger, in memory).

        Raises:
            ConfigError: checkpointing is off.
            CheckpointError: the checkpoint failed or the job ended first.
        """
        while True:
            checkpoint_id = self.trigger_checkpoint()
            coordinator = self.coordinator
            assert coordinator is not None
            if checkpoint_id is not None:
                return await coordinator.wait_for_completion(checkpoint_id)
            pending = coordinator.pending_id
            if pending is None:
                msg = f"job {self.name!r} has no running source to checkpoint"
                raise CheckpointError(msg)
            with contextlib.suppress(CheckpointError):
                await coordinator.wait_for_completion(pending)

    # -- TaskListener ---------------------------------------------------------------------------
    def acknowledge_checkpoint(
        self, task: StreamTask, checkpoint_id: int, state: dict[str, Any]
    ) -> None:
        """Forward to the coordinator."""
        if self.coordinator is not None:
            self.coordinator.acknowledge(task, checkpoint_id, state)

    def task_ended(self, task: StreamTask) -> None:
        """Stop the coordinator once every task has ended."""
        self._ended_tasks += 1
        if self.coordinator is not None:
            self.coordinator.task_ended(task)
            if self._ended_tasks == len(self.tasks):
                self.coordinator.shutdown()

    # -- observing ------------------------------------------------------------------------------
    def statistics(self) -> JobStatistics:
        """A consistent snapshot of every counter of the job."""
        operators: list[OperatorStatistics] = []
        tasks: list[TaskStatistics] = []
        connectors: list[ConnectorSample] = []
        for task in self.tasks:
            chain = task.chain
            for node in task.vertex.nodes:
                c = chain.contexts[node.node_id]
                m = c.metrics
                operators.append(
                    OperatorStatistics(
                        task.name,
                        node.name,
                        node.node_id,
                        task.subtask_index,
                        m.records_in.count,
                        m.records_out.count,
                        m.late_records_dropped.count,
                        m.errors.count,
                        m.input_watermark.value,
                        m.output_watermark.value,
                    )
                )
                connectors.extend(self._connector_samples(task, node.name, node.node_id))
            tm = task.metrics
            tasks.append(
                TaskStatistics(
                    task.name,
                    task.subtask_index,
                    task.status.value,
                    tm.busy_ns() / 1e9,
                    tm.idle_ns / 1e9,
                    tm.backpressured_ns / 1e9,
                    chain.head_context.metrics.records_in.count,
                    task.records_out,
                )
            )
        channels = [
            ChannelStatistics(
                edge.source_vertex.name,
                producer,
                edge.target_vertex.name,
                consumer,
                edge.partitioner.describe(),
                len(channel),
                channel.capacity,
                channel.peak,
                channel.buffers_sent,
            )
            for edge, producer, consumer, channel in self.channels
        ]
        return JobStatistics(
            self.name,
            self.status.value,
            tuple(operators),
            tuple(tasks),
            tuple(channels),
            self.coordinator.statistics() if self.coordinator else CheckpointStatistics(),
            tuple(connectors),
        )

    @staticmethod
    def _connector_samples(task: StreamTask, operator: str, node_id: int) -> list[ConnectorSample]:
        holder: Any = None
        if isinstance(task, SourceTask) and node_id == task.vertex.head.node_id:
            holder = task.reader
        else:
            holder = getattr(task.chain.operator(node_id), "writer", None)
        report = getattr(holder, "connector_metrics", None)
        if report is None:
            return []
        metrics: list[ConnectorMetric] = report()
        return [
            ConnectorSample(m.name, task.name, operator, task.subtask_index, m.value, m.labels)
            for m in metrics
        ]

    @property
    def uptime_seconds(self) -> float:
        """Seconds since ``run()`` started (until it ended)."""
        if not self._start_ns:
            return 0.0
        end = self._end_ns or time.perf_counter_ns()
        return (end - self._start_ns) / 1e9

    def readiness(self) -> tuple[bool, str]:
        """Whether the job serves traffic (``/readyz``), and the reason when it does not."""
        if self.status is not JobStatus.RUNNING:
            reason = f"job is {self.status.value}"
            if self.failure is not None:
                reason += f": {self.failure}"
            return False, reason
        for task in self.tasks:
            if task.status in (TaskStatus.FAILED, TaskStatus.CANCELED):
                return False, f"task {task!r} is {task.status.value}"
        if not self.tasks or not all(t.ready for t in self.tasks):
            return False, "sources are still connecting"
        return True, "running"

    @property
    def running_tasks(self) -> int:
        """How many tasks are running."""
        return sum(t.status is TaskStatus.RUNNING for t in self.tasks)


def _root_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that failed the job: the first that is not a consequence of another."""
    leaves: list[BaseException] = []

    def walk(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                walk(inner)
        elif not isinstance(error, asyncio.CancelledError):
            leaves.append(error)

    walk(group)
    for error in leaves:
        if not isinstance(error, ChannelClosedError):
            return error
    return leaves[0] if leaves else group
