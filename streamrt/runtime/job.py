"""Runs a deployed job: one TaskGroup, checkpoints, stop and cancel, statistics.

Architecture §2: one asyncio task per parallel subtask of each chain, all under one
``asyncio.TaskGroup`` (house style C8), so a failing task cancels the others and the job fails
with that task's error, which names the operator and subtask. What runs is built by
``deployment``; the statistics snapshot is assembled by ``job_statistics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from streamrt.errors import (
    CheckpointError,
    ConfigError,
    JobCancelledError,
    StreamrtError,
)
from streamrt.runtime.checkpoint_coordinator import CheckpointCoordinator, CompletedCheckpoint
from streamrt.runtime.clock import Clock, SystemClock
from streamrt.runtime.completed_checkpoint import warn_about_derived_uids
from streamrt.runtime.config import JobConfig
from streamrt.runtime.deployment import ChannelPlacement, deploy
from streamrt.runtime.external_channel import ExternalChannelContext, ExternalChannelSpec
from streamrt.runtime.input_task import InputTask
from streamrt.runtime.job_graph import JobGraph
from streamrt.runtime.job_outcome import JobExecutionResult, finalize_readers, root_cause
from streamrt.runtime.job_statistics import job_statistics
from streamrt.runtime.source_task import SourceTask
from streamrt.runtime.statistics import JobStatistics
from streamrt.runtime.status import ExecutionStatus
from streamrt.runtime.task import StreamTask

__all__ = ["Job", "JobExecutionResult", "JobStatus"]

logger = logging.getLogger(__name__)

#: The lifecycle of a job (the same states as a task's).
JobStatus = ExecutionStatus


class Job:
    """A job graph, run until it finishes; restarted from its latest checkpoint on failure.

    Create it, then ``await job.run()``; meanwhile ``statistics()``, ``stop()``, ``cancel()``,
    ``checkpoint()`` and ``savepoint()`` may be called from the same event loop.

    Args:
        graph: the chained job graph.
        config: the job's settings (checkpointing, storage, restart strategy, ...).
        restored: a completed checkpoint or savepoint to start from (also at another
            parallelism: ``state_assignment``).
        segment: run only this segment of the job (its parts between Kafka-topic edges).
        clock: what the restart loop reads and sleeps on (tests inject one).
    """

    def __init__(
        self,
        graph: JobGraph,
        config: JobConfig | None = None,
        restored: CompletedCheckpoint | None = None,
        *,
        segment: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.graph = graph
        self.segment = segment
        self.config = config or JobConfig()
        self.restored_from = restored
        self._clock = clock or SystemClock()
        self.status = JobStatus.CREATED
        self.tasks: list[StreamTask] = []
        self.channels: list[ChannelPlacement] = []
        self.coordinator: CheckpointCoordinator | None = None
        self.started = asyncio.Event()
        self.failure: BaseException | None = None
        #: restarts so far, and the failure that caused the last one
        self.restarts = 0
        self.last_restart_cause: BaseException | None = None
        self._restoring: CompletedCheckpoint | None = None
        self._run_task: asyncio.Task[Any] | None = None
        self._cancel_requested = False
        self._stopping = False  # stop() was called: /readyz answers 503 "stopping" from then on
        self._ended_tasks = 0
        self._start_ns = 0
        self._end_ns = 0
        self._external: list[tuple[ExternalChannelSpec, ExternalChannelContext]] = []
        if self.config.checkpoint_interval_ms is not None:
            warn_about_derived_uids(graph)
            storage = self.config.checkpoint_storage
            self.coordinator = CheckpointCoordinator(
                graph.name,
                self.config.checkpoint_interval_ms,
                self.config.checkpoint_timeout_ms,
                storage=storage,
                latest=restored,
                first_id=storage.latest_id() + 1 if storage is not None else 1,
            )

    @property
    def name(self) -> str:
        """The job's name."""
        return self.graph.name

    # -- building -----------------------------------------------------------------------------
    def _build(self, restore: CompletedCheckpoint | None) -> None:
        deployment = deploy(
            self.graph,
            self.config,
            self,
            restore,
            self.segment,
            allow_non_restored_state=self.config.allow_non_restored_state,
        )
        self.tasks = deployment.tasks
        self.channels = deployment.channels
        self._external = deployment.external
        self._ended_tasks = 0
        if self.coordinator is not None:
            self.coordinator.attach(self.tasks, deployment.vertices)

    async def _prepare_external(self) -> None:
        # topics exist and every pump is positioned before any producer of this run writes
        for spec, context in self._external:
            await spec.prepare(context)
        for task in self.tasks:
            if isinstance(task, InputTask):
                await task.start_pumps()

    # -- running ------------------------------------------------------------------------------
    async def run(self) -> JobExecutionResult:
        """Run until every task has finished, restarting as the restart strategy allows.

        Raises:
            OperatorError: an operator failed and no restart is left (names it and the
                subtask; ``__cause__`` is the original exception).
            JobCancelledError: ``cancel()`` was called.
        """
        if self.status is not JobStatus.CREATED:
            msg = f"job {self.name!r} has already run; build a new one to run again"
            raise StreamrtError(msg)
        self._run_task = asyncio.current_task()
        self._start_ns = time.perf_counter_ns()
        self.status = JobStatus.RUNNING
        try:
            await self._run_with_restarts()
        except asyncio.CancelledError:
            self.status = JobStatus.CANCELED
            if self._cancel_requested and self._run_task is not None:
                self._run_task.uncancel()
                msg = f"job {self.name!r} was cancelled"
                raise JobCancelledError(msg) from None
            raise
        except BaseException as exc:
            self.status = JobStatus.FAILED
            self.failure = exc
            raise
        finally:
            self.started.set()
            self._end_ns = time.perf_counter_ns()
            await finalize_readers(
                self.tasks, job_finished=self.failure is None and self.tasks_done
            )
        self.status = JobStatus.FINISHED
        return JobExecutionResult(
            self.name,
            (time.perf_counter_ns() - self._start_ns) / 1e9,
            self.statistics(),
            self.coordinator.latest if self.coordinator else None,
        )

    async def _run_with_restarts(self) -> None:
        strategy = self.config.effective_restart_strategy.create()
        restore = self.restored_from
        while True:
            strategy.notify_running(self._clock.now_ms())
            self._build(restore)  # a bad restore or graph is not worth a restart
            try:
                await self._run_tasks(restore)
            except BaseExceptionGroup as group_error:
                if self._cancel_requested:
                    # tasks cancelled by cancel() may fail on their way out (a channel whose
                    # consumer is gone): that is the cancellation, not a failure to restart
                    raise asyncio.CancelledError from None
                # re-raised as is: its __cause__ (the user's exception) must survive
                cause = root_cause(group_error)
            else:
                return
            strategy.notify_failure(self._clock.now_ms())
            if not strategy.can_restart():
                raise cause
            delay = strategy.backoff_ms()
            self.restarts += 1
            self.last_restart_cause = cause
            self.status = JobStatus.RESTARTING
            restore = self.coordinator.latest if self.coordinator else self.restored_from
            logger.warning(
                "job %r failed (%s); restart %d (%s) in %d ms from %s",
                self.name,
                cause,
                self.restarts,
                strategy.describe(),
                delay,
                f"checkpoint {restore.checkpoint_id}" if restore else "the start",
            )
            await self._clock.sleep_ms(delay)
            self.status = JobStatus.RUNNING

    async def _run_tasks(self, restore: CompletedCheckpoint | None) -> None:
        self._restoring = restore
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

    @property
    def tasks_done(self) -> bool:
        """Whether every task finished (none failed or was cancelled)."""
        return bool(self.tasks) and all(t.status is ExecutionStatus.FINISHED for t in self.tasks)

    def cancel(self) -> None:
        """Cancel every task now (no final flush, no end-of-input processing)."""
        if self._run_task is not None and not self._run_task.done():
            self._cancel_requested = True
            self._run_task.cancel()

    def stop(self, *, drain: bool = False) -> None:
        """Stop gracefully and end FINISHED.

        Sources stop reading; everything in flight is processed and flushed; operators finish.
        With checkpointing on, the sources stop right after the barrier of a final checkpoint
        (Flink's stop-with-savepoint), so a restart carries on exactly where this run stopped.

        Args:
            drain: also send the final MAX watermark, firing every pending event-time timer
                (Flink's ``stop --drain``).
        """
        self._stopping = True
        if self.coordinator is not None and self.status is JobStatus.RUNNING:
            self.coordinator.request_stop(drain=drain)
            return
        for task in self.tasks:
            if isinstance(task, SourceTask):
                task.request_stop(drain=drain)

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called (the job is draining, or has stopped)."""
        return self._stopping

    def trigger_checkpoint(self) -> int | None:
        """Start a checkpoint now (checkpointing must be enabled); its id, or ``None`` if busy."""
        return self._coordinator().trigger()

    def _coordinator(self) -> CheckpointCoordinator:
        if self.coordinator is None:
            msg = "checkpointing is off; call env.enable_checkpointing(interval_ms) first"
            raise ConfigError(msg)
        return self.coordinator

    async def checkpoint(self) -> CompletedCheckpoint:
        """Take a checkpoint now and wait until it is complete (and durable, with storage).

        Raises:
            ConfigError: checkpointing is off.
            CheckpointError: the checkpoint failed or the job ended first.
        """
        return await self._take(None)

    async def savepoint(
        self, directory: str | os.PathLike[str], *, stop: bool | None = None
    ) -> CompletedCheckpoint:
        """Take a savepoint into a new directory under ``directory``; its ``location`` says where.

        Args:
            directory: the parent directory; savepoints are never deleted automatically.
            stop: ``None`` to go on; ``False``/``True`` to stop the job right after it
                (without/with draining), Flink's stop-with-savepoint.

        Raises:
            ConfigError: checkpointing is off.
            CheckpointError: the savepoint failed or the job ended first.
        """
        return await self._take(os.fspath(directory), stop=stop)

    async def _take(
        self, savepoint_dir: str | None, stop: bool | None = None
    ) -> CompletedCheckpoint:
        coordinator = self._coordinator()
        while True:
            checkpoint_id = coordinator.trigger(savepoint_dir=savepoint_dir, stop=stop)
            if checkpoint_id is not None:
                return await coordinator.wait_for_completion(checkpoint_id)
            pending = coordinator.pending_id
            if pending is None:
                msg = f"job {self.name!r} has no running source to checkpoint"
                raise CheckpointError(msg)
            with contextlib.suppress(CheckpointError):
                await coordinator.wait_for_completion(pending)

    # -- TaskListener ---------------------------------------------------------------------------
    def acknowledge_checkpoint(self, task: StreamTask, checkpoint_id: int, blob: bytes) -> None:
        """Forward to the coordinator."""
        if self.coordinator is not None:
            self.coordinator.acknowledge(task, checkpoint_id, blob)

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
        return job_statistics(
            self.name, self.status.value, self.tasks, self.channels, self.coordinator, self.restarts
        )

    @property
    def uptime_seconds(self) -> float:
        """Seconds since ``run()`` started (until it ended)."""
        if not self._start_ns:
            return 0.0
        end = self._end_ns or time.perf_counter_ns()
        return (end - self._start_ns) / 1e9

    def readiness(self) -> tuple[bool, str]:
        """Whether the job serves traffic (``/readyz``), and the reason when it does not.

        Not ready from the moment ``stop()`` is called ("stopping"), so a load balancer or
        orchestrator takes the worker out while it drains.
        """
        if self._stopping and not self.status.ended:
            return False, "stopping"
        if self.status is JobStatus.RESTARTING:
            return False, f"restarting after a failure: {self.last_restart_cause}"
        if self.status is not JobStatus.RUNNING:
            reason = f"job is {self.status.value}"
            if self.failure is not None:
                reason += f": {self.failure}"
            return False, reason
        for task in self.tasks:
            if task.status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELED):
                return False, f"task {task!r} is {task.status.value}"
        if not self.tasks or not all(t.ready for t in self.tasks):
            if self._restoring is not None:
                return False, f"restoring from checkpoint {self._restoring.checkpoint_id}"
            return False, "sources are still connecting"
        self._restoring = None
        return True, "running"

    @property
    def running_tasks(self) -> int:
        """How many tasks are running."""
        return sum(t.status is ExecutionStatus.RUNNING for t in self.tasks)
