"""What every task does: run a chain in a mailbox loop, account time, checkpoint, finish.

Port of the parts of Flink's ``StreamTask`` and ``MailboxProcessor`` that apply to asyncio.
A task is one coroutine. It alternates between running its mails and processing one input
batch; it waits (``await``) only between batches: for input (idle time), for output space
(back-pressured time), or for a mail. Everything else is busy time. Chained operators are
called synchronously from the loop.

Subclasses implement ``invoke()``: the input loop of a source task or of a task fed by channels.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

from streamrt.errors import CheckpointError, OperatorError, subtask_display
from streamrt.runtime.chain import OperatorChain
from streamrt.runtime.checkpoint_encoding import encode
from streamrt.runtime.completed_checkpoint import operator_uid
from streamrt.runtime.config import JobConfig
from streamrt.runtime.counters import Counter
from streamrt.runtime.elements import CheckpointBarrier
from streamrt.runtime.job_graph import JobEdge, JobVertex
from streamrt.runtime.mailbox import Mailbox
from streamrt.runtime.metric_groups import TaskMetrics
from streamrt.runtime.operator import AvailabilityProvider
from streamrt.runtime.processing_time import MailboxProcessingTimeService
from streamrt.runtime.record_writer import RecordWriter
from streamrt.runtime.status import ExecutionStatus

__all__ = ["StreamTask", "TaskDeployment", "TaskListener"]


class TaskListener(Protocol):
    """What a task reports to its job."""

    def acknowledge_checkpoint(self, task: StreamTask, checkpoint_id: int, blob: bytes) -> None:
        """The task has taken its part of checkpoint ``checkpoint_id`` (its encoded snapshot)."""
        ...

    def task_ended(self, task: StreamTask) -> None:
        """The task has stopped, whatever its status."""
        ...


@dataclass(frozen=True, slots=True)
class TaskDeployment:
    """Everything a task is deployed with (Flink's ``TaskDeploymentDescriptor``).

    Attributes:
        vertex: the chain this task runs one subtask of.
        subtask_index: which subtask.
        writers: one RecordWriter per out-edge of the vertex, by stream edge id.
        config: the job's settings.
        job_name: the job's name, for contexts and messages.
        listener: the job, which collects acknowledgements and task ends.
        restored: this task's state from a checkpoint, or ``None``.
    """

    vertex: JobVertex
    subtask_index: int
    writers: dict[int, RecordWriter]
    config: JobConfig
    job_name: str
    listener: TaskListener
    restored: dict[str, Any] | None = None


class StreamTask:
    """Base of the two task kinds, deployed from a ``TaskDeployment``."""

    #: checkpoints enter the job here (Flink's trigger tasks): sources, and tasks fed by an
    #: edge whose producers run in another process
    checkpoint_entry = False

    def __init__(self, deployment: TaskDeployment) -> None:
        vertex, subtask_index, writers = (
            deployment.vertex,
            deployment.subtask_index,
            deployment.writers,
        )
        config, job_name, restored = deployment.config, deployment.job_name, deployment.restored
        self.vertex = vertex
        self.subtask_index = subtask_index
        self.name = vertex.name
        self.config = config
        self.job_name = job_name
        self._listener = deployment.listener
        self.status = ExecutionStatus.CREATED
        self.metrics = TaskMetrics()
        self.mailbox = Mailbox(self.wake)
        self._waiter: asyncio.Future[None] | None = None
        self.processing_time = MailboxProcessingTimeService(
            self.mailbox, asyncio.get_running_loop()
        )
        self.edge_counters: dict[int, Counter] = {}
        self.chain = OperatorChain(
            vertex,
            subtask_index,
            writers,
            self.processing_time,
            object_reuse=config.object_reuse,
            job_name=job_name,
            new_edge_counter=self._new_edge_counter,
            restored=(restored or {}).get("operators"),
            mailbox=self.mailbox,
        )
        self._buffer_timeout_ns = max(0, config.buffer_timeout_ms) * 1_000_000
        self._next_flush_ns = 0
        self.last_checkpoint_id = 0
        #: the encoded snapshot of a finished task (Flink's FLIP-147)
        self.final_state: bytes | None = None

    @property
    def ready(self) -> bool:
        """Whether the task has connected to what it reads (sources override)."""
        return True

    def _new_edge_counter(self, edge: JobEdge) -> Counter:
        counter = self.edge_counters[edge.edge_id] = Counter()
        return counter

    @property
    def records_out(self) -> int:
        """Records this task wrote to its out-edges (a record on two edges counts twice)."""
        return sum(c.count for c in self.edge_counters.values())

    def __repr__(self) -> str:
        where = subtask_display(self.subtask_index, self.vertex.parallelism)
        return f"<{type(self).__name__} {self.name!r} {where}>"

    # -- waiting ------------------------------------------------------------------------------
    def wake(self) -> None:
        """Resume the task if it is waiting (new input, a mail, output space)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_for_work(self) -> None:
        """Wait for input or a mail, counting idle time; bounded by the next buffer flush."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        handle = None
        if self._buffer_timeout_ns and self.chain.has_pending_output:
            delay = max(0, self._next_flush_ns - time.perf_counter_ns()) / 1e9
            handle = loop.call_later(delay, self.wake)
        start = time.perf_counter_ns()
        try:
            await waiter
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()
            self.metrics.idle_ns += time.perf_counter_ns() - start
        self.maybe_flush()

    async def wait_for_output(self, provider: AvailabilityProvider) -> None:
        """Wait until ``provider`` takes output again, counting back-pressured time."""
        start = time.perf_counter_ns()
        try:
            await self.chain.wait_available(provider)
        finally:
            self.metrics.backpressured_ns += time.perf_counter_ns() - start

    def maybe_flush(self) -> None:
        """Send open buffers once the buffer timeout has passed since the last flush."""
        if self._buffer_timeout_ns:
            now = time.perf_counter_ns()
            if now >= self._next_flush_ns:
                self.chain.flush_outputs()
                self._next_flush_ns = now + self._buffer_timeout_ns

    # -- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Open the chain, process input until it ends, finish, and always close."""
        self.status = ExecutionStatus.RUNNING
        self.metrics.start_ns = time.perf_counter_ns()
        self._next_flush_ns = self.metrics.start_ns + self._buffer_timeout_ns
        close_error: OperatorError | None = None
        try:
            await self.chain.open_writers()
            await self.chain.open()
            await self.invoke()
            # what later checkpoints record for this task (Flink's FLIP-147): a finished task
            # is not restarted from an older position when a checkpoint is restored
            self.final_state = self._snapshot(CheckpointBarrier(self.last_checkpoint_id, 0))
            self.status = ExecutionStatus.FINISHED
        except asyncio.CancelledError:
            self.status = ExecutionStatus.CANCELED
            raise
        except BaseException:
            self.status = ExecutionStatus.FAILED
            raise
        finally:
            self.mailbox.closed = True
            self.processing_time.shutdown()
            close_error = await self.chain.close()
            await self.chain.close_writers()
            await self.release()
            self.metrics.end_ns = time.perf_counter_ns()
            self._listener.task_ended(self)
        if close_error is not None:
            self.status = ExecutionStatus.FAILED
            raise close_error

    async def invoke(self) -> None:
        """The input loop (subclasses)."""
        raise NotImplementedError

    async def release(self) -> None:
        """Release what the subclass holds (readers, gates); runs once, also on failure."""

    async def commit_final_positions(self) -> None:
        """The job finished cleanly: commit what this task read (checkpoint entries)."""

    async def close_reader(self) -> None:
        """Close what reads from outside, kept open past the task for the final commit."""

    def trigger_checkpoint(
        self, checkpoint_id: int, timestamp_ms: int, *, stop: bool | None = None
    ) -> None:
        """Checkpoint entries: let barrier ``checkpoint_id`` enter the stream here.

        Args:
            checkpoint_id: the checkpoint's id.
            timestamp_ms: when it was triggered (epoch ms).
            stop: ``None`` to go on reading; else stop right after the barrier (with the final
                watermark if ``True``): Flink's stop-with-savepoint.
        """
        raise NotImplementedError

    async def end_of_input(self) -> None:
        """Finish the operators (head first), then send end of input downstream."""
        await self.chain.finish()
        self.chain.end_input()
        await self.chain.drain_writers()

    # -- checkpoints --------------------------------------------------------------------------
    async def perform_checkpoint(self, barrier: CheckpointBarrier) -> None:
        """Flush head -> tail, forward the barrier, snapshot the chain, acknowledge.

        Runs between batches (a mail or the barrier handler), so the snapshot is a consistent
        cut: every record before the barrier is in it, none after.
        """
        if barrier.checkpoint_id <= self.last_checkpoint_id:
            return
        self.last_checkpoint_id = barrier.checkpoint_id
        await self.chain.prepare_snapshot_pre_barrier(barrier.checkpoint_id)
        self.chain.broadcast_barrier(barrier)
        # an external edge must hold everything before the barrier before we acknowledge
        await self.chain.drain_writers()
        self._listener.acknowledge_checkpoint(self, barrier.checkpoint_id, self._snapshot(barrier))

    def _snapshot(self, barrier: CheckpointBarrier) -> bytes:
        """This task's part of a checkpoint, encoded now, while nothing else runs.

        Encoding here (not later, in a thread) keeps the snapshot consistent even when user
        code mutates a stored value in place after the barrier; it is the part of a
        checkpoint that holds up the record path (see BENCHMARKS.md).
        """
        nodes = {node.node_id: node for node in self.vertex.nodes}
        operators = {
            operator_uid(nodes[node_id]): state
            for node_id, state in self.chain.snapshot_state().items()
        }
        snapshot = {"operators": operators, **self.snapshot_task_state(barrier)}
        try:
            return encode(snapshot)
        except CheckpointError as exc:
            for uid, state in operators.items():  # name the operator whose state is at fault
                try:
                    encode(state)
                except CheckpointError:
                    msg = f"the state of operator {uid!r} in {self!r} cannot be checkpointed: {exc}"
                    raise CheckpointError(msg) from exc
            raise

    def snapshot_task_state(self, barrier: CheckpointBarrier) -> dict[str, Any]:
        """Task-level state beside the operators' (a source's split positions)."""
        return {}

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Queue the completion notice as a mail."""

        async def notify() -> None:
            await self.chain.notify_checkpoint_complete(checkpoint_id)
            await self.on_checkpoint_complete(checkpoint_id)

        self.mailbox.put(notify)

    async def on_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Task-level reaction to a completed checkpoint (sources commit offsets)."""
