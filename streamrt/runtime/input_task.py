"""A task fed by channels: the input gate, the watermark valve, barrier alignment.

Port of Flink's ``OneInputStreamTask`` with ``StreamTaskNetworkInput`` and the aligned
``SingleCheckpointBarrierHandler``. Records go to the head operator a buffer at a time;
watermarks and idleness pass the valve; a barrier blocks its channel until the barrier has
arrived on every unfinished channel, then the task checkpoints and unblocks them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from streamrt.runtime.channel import LocalChannel
from streamrt.runtime.counters import WatermarkGauge
from streamrt.runtime.elements import (
    CheckpointBarrier,
    EndOfInput,
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.external_channel import ExternalChannelPump
from streamrt.runtime.input_gate import InputGate
from streamrt.runtime.operator import operator_failure, raise_operator_failure
from streamrt.runtime.status import ExecutionStatus
from streamrt.runtime.task import StreamTask, TaskDeployment
from streamrt.runtime.watermark_valve import StatusWatermarkValve

__all__ = ["InputTask"]

logger = logging.getLogger(__name__)


class _HeadInput:
    """What the valve emits into: the head operator (Flink's ``StreamTaskNetworkOutput``)."""

    __slots__ = ("_task", "gauge")

    def __init__(self, task: InputTask) -> None:
        self._task = task
        self.gauge = WatermarkGauge()

    def emit_watermark(self, watermark: Watermark) -> None:
        self.gauge.value = watermark.timestamp
        task = self._task
        try:
            task.chain.head.process_watermark(watermark)
        except Exception as exc:
            raise_operator_failure(task.chain.head_context, exc, " on a watermark")

    def emit_watermark_status(self, status: WatermarkStatus) -> None:
        task = self._task
        try:
            task.chain.head.process_watermark_status(status)
        except Exception as exc:
            raise_operator_failure(task.chain.head_context, exc)


class InputTask(StreamTask):
    """Runs a chain whose head reads from channels.

    Args:
        channels: every channel into this subtask, in gate order.
    """

    def __init__(
        self,
        deployment: TaskDeployment,
        channels: Sequence[LocalChannel],
        *,
        pumps: Sequence[ExternalChannelPump] = (),
    ) -> None:
        super().__init__(deployment)
        self.pumps = list(pumps)
        #: pumps whose producers run in another process: this task is a checkpoint entry
        self.remote_pumps = [p for p in self.pumps if p.remote]
        self.checkpoint_entry = bool(self.remote_pumps)
        self._pumps_started: list[ExternalChannelPump] = []
        self.gate = InputGate(channels, self.wake)
        self.valve = StatusWatermarkValve(len(channels))
        self._head_input = _HeadInput(self)
        self.chain.head_context.metrics.input_watermark = self._head_input.gauge
        self._pending_barrier: CheckpointBarrier | None = None
        self._arrived: set[int] = set()

    async def start_pumps(self) -> None:
        """Position the readers of external in-edges (before any producer writes)."""
        for pump in self.pumps:
            self._pumps_started.append(pump)
            await pump.start()

    async def invoke(self) -> None:
        """Run the external edges' pumps beside the input loop; finish at end of input."""
        if not self.pumps:
            await self._process_input()
            return
        async with asyncio.TaskGroup() as group:
            running = [group.create_task(self._pump(p)) for p in self.pumps]
            try:
                await self._process_input()
            finally:
                for task in running:
                    task.cancel()

    async def _pump(self, pump: ExternalChannelPump) -> None:
        try:
            await pump.run()
        except Exception as exc:  # name the edge's consumer, like any input failure
            raise operator_failure(self.chain.head_context, exc, " reading an edge") from exc

    def _element_processors(self) -> list[Callable[[StreamRecord[Any]], None]]:
        """Per channel index, the head's method its records go to (decided once per run)."""
        return [self.chain.head.process_element] * len(self.gate.channels)

    async def _process_input(self) -> None:
        gate = self.gate
        mailbox = self.mailbox
        providers = self.chain.availability_providers
        processors = self._element_processors()
        records_in = self.chain.head_context.metrics.records_in
        timed_flush = self._buffer_timeout_ns > 0
        while True:
            if len(mailbox):
                await mailbox.run_pending()
            for provider in providers:
                if not provider.available:
                    await self.wait_for_output(provider)
            item = gate.poll()
            if item is None:
                if gate.finished:
                    break
                await self.wait_for_work()
                continue
            index, message = item
            if type(message) is list:
                records_in.count += len(message)
                try:
                    # once per buffer, never per record; the loop itself runs in C
                    deque(map(processors[index], message), 0)
                except Exception as exc:
                    raise_operator_failure(self.chain.head_context, exc)
            else:
                await self._handle_control(index, message)
            if timed_flush:
                self.maybe_flush()
        await self.end_of_input()

    async def _handle_control(self, index: int, message: Any) -> None:
        kind = type(message)
        if kind is Watermark:
            self.valve.input_watermark(message, index, self._head_input)
        elif kind is CheckpointBarrier:
            await self._on_barrier(index, message)
        elif message is EndOfInput:
            self.gate.mark_finished(index)
            self.valve.channel_finished(index, self._head_input)
            await self._maybe_complete_alignment()
        elif kind is WatermarkStatus:
            self.valve.input_watermark_status(message, index, self._head_input)
        elif kind is LatencyMarker:
            try:
                self.chain.head.process_latency_marker(message)
            except Exception as exc:
                raise_operator_failure(self.chain.head_context, exc)
        else:  # pragma: no cover - only the runtime writes into channels
            msg = f"unexpected element on channel {index} of {self!r}: {message!r}"
            raise TypeError(msg)

    # -- aligned checkpoints (Flink's SingleCheckpointBarrierHandler.aligned) ------------------
    async def _on_barrier(self, index: int, barrier: CheckpointBarrier) -> None:
        pending = self._pending_barrier
        if pending is None or barrier.checkpoint_id > pending.checkpoint_id:
            if pending is not None:  # a newer checkpoint overtook an unfinished alignment
                self.gate.unblock_all()
            self._pending_barrier = barrier
            self._arrived = set()
        elif barrier.checkpoint_id < pending.checkpoint_id:
            return  # late barrier of an abandoned checkpoint
        self._arrived.add(index)
        self.gate.block(index)
        await self._maybe_complete_alignment()

    async def _maybe_complete_alignment(self) -> None:
        barrier = self._pending_barrier
        if barrier is None:
            return
        gate = self.gate
        if all(i in self._arrived or gate.is_finished(i) for i in range(len(gate.channels))):
            self._pending_barrier = None
            self._arrived = set()
            await self.perform_checkpoint(barrier)
            gate.unblock_all()

    def trigger_checkpoint(
        self, checkpoint_id: int, timestamp_ms: int, *, stop: bool | None = None
    ) -> None:
        """This process's checkpoint enters at the remote edges.

        Barriers go into their channels now, behind what the pumps fed so far (the pumps are
        suspended between fetches, never inside one).
        """
        barrier = CheckpointBarrier(checkpoint_id, timestamp_ms)
        for pump in self.remote_pumps:
            pump.inject_barrier(barrier)

    async def commit_final_positions(self) -> None:
        """The job finished cleanly: remote edges commit what this task consumed."""
        for pump in self.remote_pumps:
            await pump.notify_job_finished()

    async def close_reader(self) -> None:
        """Close the remote edges' pumps (kept open past the task for the final commit)."""
        for pump in self.remote_pumps:
            if pump in self._pumps_started:
                self._pumps_started.remove(pump)
                await pump.close()

    def snapshot_task_state(self, barrier: CheckpointBarrier) -> dict[str, Any]:
        """Where each external in-edge's barrier was (per producer)."""
        if not self.pumps:
            return {}
        return {"external": [p.snapshot(barrier.checkpoint_id) for p in self.pumps]}

    async def on_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Let external in-edges commit their positions."""
        for pump in self.pumps:
            await pump.notify_checkpoint_complete(checkpoint_id)

    async def release(self) -> None:
        """Stop reading: close the channels so producers still waiting are released."""
        self.gate.close()
        keep = self.remote_pumps if self.status is ExecutionStatus.FINISHED else []
        for pump in [p for p in self._pumps_started if p not in keep]:
            self._pumps_started.remove(pump)
            try:
                await pump.close()
            except Exception:  # a close failure must not hide the task's own outcome
                logger.exception("closing an edge reader of %r failed", self)
