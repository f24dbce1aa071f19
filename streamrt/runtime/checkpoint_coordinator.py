"""Triggers checkpoints, collects acknowledgements, persists, and announces completion.

Port of the core of Flink's ``CheckpointCoordinator`` for one process: every ``interval_ms``
it asks every running checkpoint entry (a source task, or a task fed by an edge from another
process) to inject barrier ``n``; the checkpoint is acknowledged when every task that was
running at trigger time has sent its encoded snapshot (a task that finishes first counts with
its final state, Flink's FLIP-147). Then it is written to checkpoint storage (in a worker
thread, so the record path goes on) and only once it is durable are the tasks told, so
sources commit offsets that a restore would start from anyway. At most one checkpoint is in
flight (Flink's default), until it is durable; one that takes longer than ``timeout_ms``
fails. A checkpoint that cannot be written is counted as failed and logged; the job goes on
and the previous checkpoint stays the latest.

One coordinator serves a job across restarts: ids keep increasing, ``latest`` is what the
next restart restores, and the counts accumulate.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from streamrt.errors import CheckpointError
from streamrt.runtime.checkpoint_storage import CheckpointStorage, write_savepoint
from streamrt.runtime.completed_checkpoint import CompletedCheckpoint, vertex_metadata
from streamrt.runtime.job_graph import JobVertex
from streamrt.runtime.statistics import CheckpointStatistics
from streamrt.runtime.status import ExecutionStatus
from streamrt.runtime.task import StreamTask

__all__ = ["DURATION_BUCKETS", "CheckpointCoordinator", "CompletedCheckpoint"]

logger = logging.getLogger(__name__)

#: Upper bounds (seconds, ``le``) of the checkpoint duration histogram: from a small in-memory
#: checkpoint (tens of ms) to one near a typical timeout (minutes).
DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, math.inf,
)  # fmt: skip


@dataclass
class _Pending:
    checkpoint_id: int
    timestamp_ms: int
    started_ns: int
    awaiting: set[StreamTask]
    savepoint_dir: str | None
    blobs: dict[tuple[int, int], bytes] = field(default_factory=dict)
    done: asyncio.Future[CompletedCheckpoint] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class CheckpointCoordinator:
    """Checkpoints of one job, across its restarts.

    Args:
        job_name: written into every checkpoint's metadata.
        interval_ms: time between checkpoint triggers.
        timeout_ms: a checkpoint not durable after this long fails (Flink default 10 min).
        storage: where completed checkpoints go; ``None`` keeps them in memory only.
        latest: the checkpoint the job was restored from.
        first_id: the id of the first checkpoint (after the restored one's and after every
            checkpoint already in ``storage``: ids only grow).
    """

    def __init__(
        self,
        job_name: str,
        interval_ms: int,
        timeout_ms: int = 600_000,
        *,
        storage: CheckpointStorage | None = None,
        latest: CompletedCheckpoint | None = None,
        first_id: int = 1,
    ) -> None:
        self.job_name = job_name
        self.interval_ms = interval_ms
        self.timeout_ms = timeout_ms
        self.storage = storage
        self.latest = latest
        self._next_id = max(first_id, latest.checkpoint_id + 1 if latest else 1)
        self._tasks: list[StreamTask] = []
        self._vertices: list[JobVertex] = []
        self._pending: _Pending | None = None
        self._completed = 0
        self._failed = 0
        self._last_duration = 0.0
        self._last_completed_ms = 0
        # per-bucket (not cumulative) counts of completed checkpoints' durations; one int add per
        # checkpoint, turned into a cumulative histogram only when statistics() is read
        self._duration_counts = [0] * len(DURATION_BUCKETS)
        self._duration_sum = 0.0
        self._done = asyncio.Event()
        self._wake = asyncio.Event()
        self._stop_request: bool | None = None
        self._persisting: set[asyncio.Task[None]] = set()

    def attach(self, tasks: Sequence[StreamTask], vertices: Sequence[JobVertex]) -> None:
        """Serve the tasks of a (new) run of the job; a checkpoint of an earlier run is void."""
        self._tasks = list(tasks)
        self._vertices = list(vertices)
        self._abort_pending("the job restarted")
        self._done = asyncio.Event()
        self._stop_request = None

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
            last_completed_timestamp_seconds=self._last_completed_ms / 1000,
            duration_buckets=tuple(
                zip(DURATION_BUCKETS, itertools.accumulate(self._duration_counts), strict=True)
            ),
            duration_sum_seconds=self._duration_sum,
        )

    async def run(self) -> None:
        """Trigger periodically until ``shutdown``; then wait for a checkpoint being written."""
        interval = self.interval_ms / 1000
        loop = asyncio.get_running_loop()
        next_trigger = loop.time() + interval
        while not self._done.is_set():
            self._wake.clear()
            stop = self._stop_request
            if (
                stop is not None
                and self._pending is None
                and (self.trigger(stop=stop) is not None or not self._entries())
            ):
                self._stop_request = None
            timeout = max(0.0, next_trigger - loop.time())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                next_trigger = loop.time() + interval
                self._expire_timed_out()
                if self._stop_request is None:
                    self.trigger()
        while self._persisting:  # a final checkpoint being written completes before we end
            await asyncio.gather(*self._persisting)

    def request_stop(self, *, drain: bool) -> None:
        """Stop the job after a final checkpoint (Flink's stop-with-savepoint).

        As soon as no checkpoint is in flight, one is triggered whose barrier is the last
        thing the sources emit.
        """
        self._stop_request = drain
        self._wake.set()

    def shutdown(self) -> None:
        """Stop triggering (the job's tasks have all ended)."""
        self._done.set()
        self._wake.set()

    async def wait_for_completion(self, checkpoint_id: int) -> CompletedCheckpoint:
        """Wait until checkpoint ``checkpoint_id`` is durable.

        Raises:
            CheckpointError: it failed, expired or was aborted.
        """
        pending = self._pending
        latest = self.latest
        if latest is not None and latest.checkpoint_id >= checkpoint_id:
            return latest
        if pending is None or pending.checkpoint_id != checkpoint_id:
            msg = f"checkpoint {checkpoint_id} did not complete"
            raise CheckpointError(msg)
        return await asyncio.shield(pending.done)

    def trigger(
        self, *, savepoint_dir: str | os.PathLike[str] | None = None, stop: bool | None = None
    ) -> int | None:
        """Start a checkpoint now; ``None`` if one is in flight or no source runs.

        Args:
            savepoint_dir: write it as a savepoint under this directory instead.
            stop: ``None`` to go on; else the sources stop right after the barrier (draining,
                with the final watermark, if ``True``): Flink's stop-with-savepoint.
        """
        if self._pending is not None:
            return None
        entries = self._entries()
        if not entries:
            return None
        checkpoint_id = self._next_id
        self._next_id += 1
        now_ms = time.time_ns() // 1_000_000
        directory = None if savepoint_dir is None else os.fspath(savepoint_dir)
        pending = _Pending(
            checkpoint_id,
            now_ms,
            time.perf_counter_ns(),
            {t for t in self._tasks if not t.status.ended},
            directory,
        )
        self._pending = pending
        for task in self._tasks:
            if task.status is ExecutionStatus.FINISHED and task.final_state is not None:
                pending.blobs[_key(task)] = task.final_state
        for task in entries:
            task.trigger_checkpoint(checkpoint_id, now_ms, stop=stop)
        return checkpoint_id

    def _entries(self) -> list[StreamTask]:
        running = ExecutionStatus.RUNNING
        return [t for t in self._tasks if t.checkpoint_entry and t.status is running]

    def acknowledge(self, task: StreamTask, checkpoint_id: int, blob: bytes) -> None:
        """``task`` has taken its part of ``checkpoint_id``: its encoded snapshot."""
        pending = self._pending
        if pending is None or pending.checkpoint_id != checkpoint_id:
            return  # expired, aborted or unknown
        pending.blobs[_key(task)] = blob
        pending.awaiting.discard(task)
        self._maybe_acknowledged()

    def task_ended(self, task: StreamTask) -> None:
        """A finished task will not acknowledge any more; count its final state instead."""
        pending = self._pending
        if pending is None or task not in pending.awaiting:
            return
        if task.status is ExecutionStatus.FINISHED and task.final_state is not None:
            pending.blobs.setdefault(_key(task), task.final_state)
            pending.awaiting.discard(task)
            self._maybe_acknowledged()

    # -- completion ------------------------------------------------------------------------------
    def _maybe_acknowledged(self) -> None:
        pending = self._pending
        if pending is None or pending.awaiting:
            return
        try:
            checkpoint = self._assemble(pending)
        except Exception as exc:  # a task missing from the blobs is a bug; fail it loudly
            self._fail(pending, exc)
            return
        persist = asyncio.get_running_loop().create_task(self._persist(pending, checkpoint))
        self._persisting.add(persist)
        persist.add_done_callback(self._persisting.discard)

    def _assemble(self, pending: _Pending) -> CompletedCheckpoint:
        tasks = []
        blobs: dict[str, bytes] = {}
        for index, vertex in enumerate(self._vertices):
            entry = vertex_metadata(index, vertex)
            for subtask, name in enumerate(entry["blobs"]):
                blobs[name] = pending.blobs[(vertex.vertex_id, subtask)]
            tasks.append(entry)
        metadata = {
            "job": self.job_name,
            "savepoint": pending.savepoint_dir is not None,
            "tasks": tasks,
        }
        return CompletedCheckpoint(pending.checkpoint_id, pending.timestamp_ms, metadata, blobs)

    async def _persist(self, pending: _Pending, checkpoint: CompletedCheckpoint) -> None:
        try:
            if pending.savepoint_dir is None and self.storage is None:
                location = None  # kept in memory: nothing to write
            else:
                location = await asyncio.to_thread(self._write, pending, checkpoint)
        except Exception as exc:
            self._fail(pending, exc)
            return
        if self._pending is not pending:
            return  # aborted meanwhile (the job restarted)
        checkpoint = replace(checkpoint, location=location)
        self._pending = None
        if pending.savepoint_dir is None:
            self.latest = checkpoint
        self._completed += 1
        self._last_duration = (time.perf_counter_ns() - pending.started_ns) / 1e9
        self._duration_counts[bisect.bisect_left(DURATION_BUCKETS, self._last_duration)] += 1
        self._duration_sum += self._last_duration
        self._last_completed_ms = time.time_ns() // 1_000_000
        logger.info(
            "%s %d complete (%d bytes%s)",
            "savepoint" if pending.savepoint_dir else "checkpoint",
            checkpoint.checkpoint_id,
            checkpoint.size_bytes,
            f", {location}" if location else "",
        )
        pending.done.set_result(checkpoint)
        self._wake.set()
        for task in self._tasks:
            if task.status is ExecutionStatus.RUNNING:
                task.notify_checkpoint_complete(pending.checkpoint_id)

    def _write(self, pending: _Pending, checkpoint: CompletedCheckpoint) -> str | None:
        args = (checkpoint.checkpoint_id, checkpoint.timestamp_ms, checkpoint.metadata)
        if pending.savepoint_dir is not None:
            return write_savepoint(pending.savepoint_dir, *args, checkpoint.blobs)
        if self.storage is not None:
            return self.storage.write(*args, checkpoint.blobs)
        return None

    def _fail(self, pending: _Pending, exc: BaseException) -> None:
        if self._pending is pending:
            self._pending = None
        if pending.done.done():
            return  # already failed (aborted, then its write failed too)
        logger.warning("checkpoint %d failed: %s", pending.checkpoint_id, exc)
        self._failed += 1
        error = exc if isinstance(exc, CheckpointError) else CheckpointError(str(exc))
        pending.done.set_exception(error)
        pending.done.exception()  # marked retrieved: nobody may be waiting for it
        self._wake.set()

    def _abort_pending(self, reason: str) -> None:
        pending = self._pending
        if pending is not None:
            self._fail(pending, CheckpointError(f"checkpoint {pending.checkpoint_id}: {reason}"))

    def _expire_timed_out(self) -> None:
        pending = self._pending
        if pending is not None:
            age_ms = (time.perf_counter_ns() - pending.started_ns) / 1e6
            if age_ms > self.timeout_ms:
                self._abort_pending(f"expired after {age_ms:.0f} ms")


def _key(task: StreamTask) -> tuple[int, int]:
    return (task.vertex.vertex_id, task.subtask_index)
