"""Port of Flink's ``TimestampsAndWatermarksOperator`` (``assign_timestamps_and_watermarks``).

Assigns each record's timestamp with the strategy's assigner and generates watermarks with one
generator, emitted every auto-watermark interval from a processing-time timer. Upstream
watermarks are dropped except the final MAX (end of input), and upstream idleness is ignored,
as in Flink: this operator owns event time from here on.
"""

from __future__ import annotations

from typing import Any, TypeVar

from operators.base import AbstractStreamOperator
from streamrt.errors import RecordError
from streamrt.runtime.elements import MAX_WATERMARK, StreamRecord, Watermark, WatermarkStatus
from streamrt.runtime.operator import OperatorContext, operator_failure
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.processing_time import Cancellable
from streamrt.runtime.watermark_strategy import WatermarkStrategy
from streamrt.runtime.watermarks import WatermarkGenerator

__all__ = ["TimestampsAndWatermarksOperator"]

T = TypeVar("T")


class _Emitter:
    """The generator's WatermarkOutput: forwards rising watermarks and idleness changes."""

    __slots__ = ("_idle", "_output", "last")

    def __init__(self, output: Output[Any]) -> None:
        self._output = output
        self.last = -(2**63)
        self._idle = False

    def emit_watermark(self, watermark: Watermark) -> None:
        if watermark.timestamp > self.last:
            self.last = watermark.timestamp
            self.mark_active()
            self._output.emit_watermark(watermark)

    def mark_idle(self) -> None:
        if not self._idle:
            self._idle = True
            self._output.emit_watermark_status(WatermarkStatus.IDLE)

    def mark_active(self) -> None:
        if self._idle:
            self._idle = False
            self._output.emit_watermark_status(WatermarkStatus.ACTIVE)


class TimestampsAndWatermarksOperator(AbstractStreamOperator[T, T]):
    """Re-stamps records and generates watermarks mid-stream.

    Args:
        strategy: the watermark strategy (and timestamp assigner) to apply.
        interval_ms: the auto-watermark interval; 0 disables periodic emission.
    """

    def __init__(self, strategy: WatermarkStrategy, interval_ms: int = 200) -> None:
        self._strategy = strategy
        self._interval_ms = interval_ms
        self._timer: Cancellable | None = None

    def setup(self, context: OperatorContext, output: Output[T]) -> None:
        """Create the generator and bind hot-path attributes."""
        super().setup(context, output)
        self._generator: WatermarkGenerator = self._strategy.create_generator()
        self._assigner = self._strategy.timestamp_assigner
        self._emitter = _Emitter(output)
        self._collect = output.collect

    async def open(self) -> None:
        """Start periodic watermark emission."""
        if self._interval_ms > 0:
            self._schedule()

    def _schedule(self) -> None:
        pts = self.context.processing_time
        self._timer = pts.register_timer(
            pts.current_processing_time() + self._interval_ms, self._on_periodic
        )

    def _on_periodic(self, _: int) -> None:
        try:  # runs as a task mail
            self._generator.on_periodic_emit(self._emitter)
        except Exception as exc:
            raise operator_failure(self.context, exc, " in the watermark generator") from exc
        self._schedule()

    def process_element(self, record: StreamRecord[T]) -> None:
        """Assign the timestamp, tell the generator, and emit."""
        assigner = self._assigner
        timestamp = (
            assigner(record.value, record.timestamp) if assigner is not None else record.timestamp
        )
        if timestamp is None:
            msg = (
                "record has no timestamp and the WatermarkStrategy has no timestamp assigner; "
                "add .with_timestamp_assigner(fn)"
            )
            raise RecordError(msg)
        record.timestamp = timestamp
        self._generator.on_event(record.value, timestamp, self._emitter)
        self._collect(record)

    def process_watermark(self, watermark: Watermark) -> None:
        """Only the end-of-input watermark passes; this operator makes its own."""
        if watermark.timestamp == MAX_WATERMARK:
            self._emitter.emit_watermark(watermark)

    def process_watermark_status(self, status: WatermarkStatus) -> None:
        """Upstream idleness does not apply downstream of a new watermark generator."""

    async def finish(self) -> None:
        """One last periodic emit, then stop the timer."""
        self._generator.on_periodic_emit(self._emitter)
        if self._timer is not None:
            self._timer.cancel()

    async def close(self) -> None:
        """Stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
