"""The Output at the end of a chain for each out-edge that crosses a channel.

Port of Flink's ``RecordWriterOutput``. Records go to the edge's ``RecordWriter`` (which
partitions and buffers them); watermarks, statuses and barriers are broadcast to every channel
after a flush; latency markers go to one random channel. Side-output edges take only records
with their tag.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final

from streamrt.runtime.counters import DISCARDING_COUNTER, Counter, WatermarkGauge
from streamrt.runtime.elements import (
    CheckpointBarrier,
    EndOfInput,
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.record_writer import RecordWriter

__all__ = ["RecordWriterOutput"]

T = TypeVar("T")


@final
class RecordWriterOutput(Generic[T]):
    """Hands records of one out-edge to its RecordWriter.

    Args:
        writer: the edge's writer.
        records_out: counts records written to this edge (the task's records-out).
        tag: the side output this edge carries, ``None`` for the main output.
    """

    __slots__ = (
        "_announced_status",
        "_emit",
        "_operator_records_out",
        "_records_out",
        "_tag",
        "watermark_gauge",
        "writer",
    )

    def __init__(
        self, writer: RecordWriter, records_out: Counter, tag: OutputTag[Any] | None = None
    ) -> None:
        self.writer = writer
        self._emit = writer.emit
        self._records_out = records_out
        # the emitting operator's records-out, when this is its only output (no CountingOutput)
        self._operator_records_out = DISCARDING_COUNTER
        self._tag = tag
        self._announced_status = WatermarkStatus.ACTIVE
        self.watermark_gauge = WatermarkGauge()

    def count_operator_records(self, counter: Counter) -> None:
        """Also count every emit into ``counter``, the operator's records-out.

        What a ``CountingOutput`` around this output would do, without a call per record; only
        for a main-output edge, which sees every main record.
        """
        assert self._tag is None, "a side-output edge does not see every main record"
        self._operator_records_out = counter

    def collect(self, record: StreamRecord[T]) -> None:
        """Write a main-output record (a side-output edge ignores it)."""
        if self._tag is None:
            self._records_out.count += 1
            self._operator_records_out.count += 1
            self._emit(record.value, record.timestamp)

    def collect_side(self, tag: OutputTag[Any], record: StreamRecord[Any]) -> None:
        """Write a side-output record if this edge carries ``tag``."""
        self._operator_records_out.count += 1
        if tag == self._tag:
            self._records_out.count += 1
            self._emit(record.value, record.timestamp)

    def emit_watermark(self, watermark: Watermark) -> None:
        """Broadcast unless this output last announced IDLE."""
        if self._announced_status is WatermarkStatus.IDLE:
            return
        self.watermark_gauge.value = watermark.timestamp
        self.writer.broadcast_control(watermark)

    def emit_watermark_status(self, status: WatermarkStatus) -> None:
        """Broadcast a status when it changes."""
        if status is not self._announced_status:
            self._announced_status = status
            self.writer.broadcast_control(status)

    def emit_latency_marker(self, marker: LatencyMarker) -> None:
        """Send to one random channel."""
        self.writer.random_emit(marker)

    def broadcast_barrier(self, barrier: CheckpointBarrier) -> None:
        """Send a checkpoint barrier on every channel (barriers bypass the chain's outputs)."""
        self.writer.broadcast_control(barrier)

    def end_input(self) -> None:
        """Flush and send end of input on every channel."""
        self.writer.broadcast_control(EndOfInput)

    def flush(self) -> None:
        """Send the open buffers."""
        self.writer.flush_all()

    def close(self) -> None:
        """Nothing to release; the channels belong to the job."""
