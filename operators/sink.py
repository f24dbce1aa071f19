"""The terminal operator: hands records to a ``SinkWriter``.

Port of the role of Flink's ``SinkWriterOperator``. The operator counts the records it writes
as its records-out (FLIP-33's meaning for sinks) and exposes the writer's back-pressure to the
task: when the writer's buffer is full the task awaits its ``flush`` between input batches.
A writer with a linger bound (``LingeringSinkWriter``) also turns unavailable once its oldest
pending record is ``linger_ms`` old; the task then awaits a ``send`` (no acknowledgements)
before its next input batch (``streamrt.runtime.linger``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from operators.base import AbstractStreamOperator
from streamrt.runtime.elements import LatencyMarker, StreamRecord
from streamrt.runtime.linger import LingerTimer
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.sink_writer import LingeringSinkWriter, Sink, SinkWriter, SinkWriterContext

__all__ = ["SinkOperator"]

T = TypeVar("T")


class SinkOperator(AbstractStreamOperator[T, Any]):
    """Writes every record to a writer created from ``sink`` for this subtask."""

    def __init__(self, sink: Sink[T]) -> None:
        self._sink = sink
        #: wall-clock latency of the last latency marker that reached this sink, in ms
        self.last_latency_ms: float | None = None

    def setup(self, context: OperatorContext, output: Output[Any]) -> None:
        """Create the writer."""
        super().setup(context, output)
        self.writer: SinkWriter[T] = self._sink.create_writer(
            SinkWriterContext(
                context.subtask_index,
                context.parallelism,
                context.job_name,
                context.name,
                context.metrics.connector,
            )
        )
        self._write = self.writer.write
        self._records_out = context.metrics.records_out
        writer = self.writer
        self._lingering = writer if isinstance(writer, LingeringSinkWriter) else None
        linger_ms = -1 if self._lingering is None else self._lingering.linger_ms
        #: the writer's linger bound, one flush cycle at a time
        self.linger = LingerTimer(context.processing_time, linger_ms)

    async def open(self) -> None:
        """Open the writer."""
        await self.writer.open()

    def process_element(self, record: StreamRecord[T]) -> None:
        """Write one record."""
        self._write(record.value, record.timestamp)
        self._records_out.count += 1
        if not self.linger.armed:  # the first record of a flush cycle
            self.linger.arm()

    def process_latency_marker(self, marker: LatencyMarker) -> None:
        """Record how long the marker took from its source."""
        now = self.context.processing_time.current_processing_time()
        self.last_latency_ms = now - marker.marked_time_ms

    @property
    def available(self) -> bool:
        """Whether the writer can take more records without a flush or a linger send."""
        return self.writer.available and not self.linger.expired()

    async def wait_available(self) -> None:
        """Flush a full writer, or send a lingering one's records (acks are not awaited)."""
        if self._lingering is not None and self.writer.available:  # the linger time passed
            await self._lingering.send()
        else:
            await self.writer.flush(False)
        self.linger.reset()

    async def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        """Deliver everything written before the barrier (at-least-once)."""
        await self.writer.flush(False)
        self.linger.reset()

    def state_dict(self) -> dict[str, Any]:
        """The writer's state."""
        return {"writer": self.writer.state_dict()}

    def snapshot_state(self) -> dict[str, Any]:
        """The writer's state, as ``state_dict()``."""
        return self.state_dict()

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Let the writer commit."""
        await self.writer.notify_checkpoint_complete(checkpoint_id)

    async def finish(self) -> None:
        """Deliver everything at end of input."""
        await self.writer.flush(True)
        self.linger.reset()

    async def close(self) -> None:
        """Close the writer."""
        self.linger.reset()
        await self.writer.close()
