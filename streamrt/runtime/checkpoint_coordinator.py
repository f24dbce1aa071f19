"""Triggers checkpoints, collects acknowledgements, and announces completion.

Port of the core of Flink's ``CheckpointCoordinator`` for one process: every
``interval_ms`` it asks every running checkpoint entry (a source task, or a task fed by an
edge from another process) to inject barrier ``n``; a checkpoint is
complete when every task that was running at trigger time has acknowledged it (a task that
finishes first counts as acknowledged, Flink's FLIP-147); then every task is told, and sources
commit their offsets. At most one checkpoint is in flight (Flink's default); one that takes
longer than ``timeout_ms`` is declared failed.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamrt.errors import CheckpointError
from streamrt.runtime.statistics import CheckpointStatistics
from streamrt.runtime.status import ExecutionStatus
from streamrt.runtime.task import StreamTask

__all__ = ["CheckpointCoordinator", "CompletedCheckpoint"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompletedCheckpoint:
    """A completed checkpoint: each task's state by (vertex id, subtask)."""

    checkpoint_id: int
    timestamp_ms: int
    states: dict[tuple[int, int], dict[str, Any]]
    size_bytes: int


@dataclass
class _Pending:
    checkpoint_id: int
    timestamp_ms: int
    started_ns: int
    awaiting: set[StreamTask]
    states: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)


class CheckpointCoordinator:
    """Checkpoints of one job run.

    Args:
        tasks: every task of the job.
        interval_ms: time between checkpoint triggers.
        timeout_ms: a checkpoint not complete after this long fails (Flink default 10 min).
        on_complete: called with each completed checkpoint (e.g. to persist it).
    """

    def __init__(
        self,
        tasks: Sequence[StreamTask],
        interval_ms: int,
        timeout_ms: int = 600_000,
        on_complete: Callable[[CompletedCheckpoint], None] | None = None,
    ) -> None:
        self._tasks = list(tasks)
        self.interval_ms = interval_ms
        self.timeout_ms = timeout_ms
        self._on_complete = on_complete
        self._next_id = 1
        self._pending: _Pending | None = None
        self.latest: CompletedCheckpoint | None = None
        self._completed = 0
        self._failed = 0
        self._last_duration = 0.0
        self._done = asyncio.Event()
        self._progress = asyncio.Event()  # set (and replaced) whenever a checkpoint ends

    @property
    def pending_id(self) -> int | None:
        """The id of the checkpoint in flight, if any."""
        return self._pending.checkpoint_id if self._pending else None

    def statistics(self) -> CheckpointStatistics:
        """Counts and the last completed checkpoint's duration and size."""
        return CheckpointStatistics(
            completed=self._completed,
            failed=self._failed,
            in_progress=int(self._pending is not None),
            last_completed_id=self.latest.checkpoint_id if self.latest else 0,
            last_duration_seconds=self._last_duration,
            last_size_bytes=self.latest.size_bytes if self.latest else 0,
        )

    async def run(self) -> None:
        """Trigger periodically until ``shutdown``."""
        interval = self.interval_ms / 1000
        while not self._done.is_set():
            try:
                await asyncio.wait_for(self._done.wait(), interval)
            except TimeoutError:
                self._expire_timed_out()
                self.trigger()

    def shutdown(self) -> None:
        """Stop triggering (the job is ending)."""
        self._done.set()
        self._signal_progress()

    def _signal_progress(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    async def wait_for_completion(self, checkpoint_id: int) -> CompletedCheckpoint:
        """Wait until checkpoint ``checkpoint_id`` (or a later one) has completed.

        Raises:
            CheckpointError: it failed or expired, or the job ended first.
        """
        while True:
            latest = self.latest
            if latest is not None and latest.checkpoint_id >= checkpoint_id:
                return latest
            pending = self._pending
            if self._done.is_set() or pending is None or pending.checkpoint_id != checkpoint_id:
                msg = f"checkpoint {checkpoint_id} did not complete"
                raise CheckpointError(msg)
            await self._progress.wait()

    def trigger(self) -> int | None:
        """Start a checkpoint now; ``None`` if one is still in flight or no source runs."""
        if self._pending is not None:
            return None
        running_now = ExecutionStatus.RUNNING
        entries = [t for t in self._tasks if t.checkpoint_entry and t.status is running_now]
        if not entries:
            return None
        running = {t for t in self._tasks if not t.status.ended}
        checkpoint_id = self._next_id
        self._next_id += 1
        now_ms = time.time_ns() // 1_000_000
        self._pending = _Pending(checkpoint_id, now_ms, time.perf_counter_ns(), running)
        for task in self._tasks:
            if task.status is ExecutionStatus.FINISHED and task.final_state is not None:
                self._pending.states[(task.vertex.vertex_id, task.subtask_index)] = task.final_state
        for task in entries:
            task.trigger_checkpoint(checkpoint_id, now_ms)
        return checkpoint_id

    def acknowledge(self, task: StreamTask, checkpoint_id: int, state: dict[str, Any]) -> None:
        """``task`` has taken its part of ``checkpoint_id``."""
        pending = self._pending
        if pending is None or pending.checkpoint_id != checkpoint_id:
            return  # expired or unknown
        pending.states[(task.vertex.vertex_id, task.subtask_index)] = state
        pending.awaiting.discard(task)
        self._maybe_complete()

    def task_ended(self, task: StreamTask) -> None:
        """A finished task will not acknowledge any more; stop waiting for it."""
        pending = self._pending
        finished = task.status is ExecutionStatus.FINISHED
        if pending is not None and finished and task in pending.awaiting:
            if task.final_state is not None:
                pending.states.setdefault(
                    (task.vertex.vertex_id, task.subtask_index), task.final_state
                )
            pending.awaiting.discard(task)
            self._maybe_complete()

    def _maybe_complete(self) -> None:
        pending = self._pending
        if pending is None or pending.awaiting:
            return
        self._pending = None
        try:
            size = len(pickle.dumps(pending.states))
        except Exception:  # unpicklable user state: still complete, size unknown
            size = 0
        checkpoint = CompletedCheckpoint(
            pending.checkpoint_id, pending.timestamp_ms, pending.states, size
        )
        self.latest = checkpoint
        self._completed += 1
        self._last_duration = (time.perf_counter_ns() - pending.started_ns) / 1e9
        if self._on_complete is not None:
            self._on_complete(checkpoint)
        self._signal_progress()
        for task in self._tasks:
            if task.status is ExecutionStatus.RUNNING:
                task.notify_checkpoint_complete(pending.checkpoint_id)

    def _expire_timed_out(self) -> None:
        pending = self._pending
        if pending is not None:
            age_ms = (time.perf_counter_ns() - pending.started_ns) / 1e6
            if age_ms > self.timeout_ms:
                logger.warning("checkpoint %d expired after %d ms", pending.checkpoint_id, age_ms)
                self._pending = None
                self._failed += 1
                self._signal_progress()
