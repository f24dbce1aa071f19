"""Fan-out to several outputs of one operator (0 or >= 2 out-edges).

Port of Flink's ``BroadcastingOutputCollector`` and ``CopyingBroadcastingOutputCollector``.
With object reuse off, no copy is made here: each chained child copies on its own
(``CopyingChainingOutput``) and each channel writer copies too. With object reuse on, chained
operators overwrite the record they receive in place, so every branch but the last gets a fresh
wrapper around the same value; the last gets the original (house style C7).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Generic, TypeVar, final

from streamrt.runtime.counters import WatermarkGauge
from streamrt.runtime.elements import LatencyMarker, StreamRecord, Watermark, WatermarkStatus
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.outputs.output import WatermarkGaugeExposingOutput

__all__ = ["BroadcastingOutputCollector", "CopyingBroadcastingOutputCollector"]

T = TypeVar("T")


class _BroadcastingBase(Generic[T]):
    __slots__ = ("_outputs", "_random", "watermark_gauge")

    def __init__(self, outputs: Sequence[WatermarkGaugeExposingOutput[T]]) -> None:
        self._outputs = tuple(outputs)
        self._random = random.Random()
        self.watermark_gauge = WatermarkGauge()

    def emit_watermark(self, watermark: Watermark) -> None:
        """Record the watermark and forward it to every output."""
        self.watermark_gauge.value = watermark.timestamp
        for output in self._outputs:
            output.emit_watermark(watermark)

    def emit_watermark_status(self, status: WatermarkStatus) -> None:
        """Forward to every output (each forwards only on change)."""
        for output in self._outputs:
            output.emit_watermark_status(status)

    def emit_latency_marker(self, marker: LatencyMarker) -> None:
        """Forward to one output chosen at random (none when there are no outputs)."""
        if self._outputs:
            self._random.choice(self._outputs).emit_latency_marker(marker)

    def close(self) -> None:
        """Close every output."""
        for output in self._outputs:
            output.close()


@final
class BroadcastingOutputCollector(_BroadcastingBase[T]):
    """Hands the same record to every output (object reuse off)."""

    __slots__ = ()

    def collect(self, record: StreamRecord[T]) -> None:
        """Pass the record to every output in order."""
        for output in self._outputs:
            output.collect(record)

    def collect_side(self, tag: OutputTag[Any], record: StreamRecord[Any]) -> None:
        """Pass the side-output record to every output; each filters by its tag."""
        for output in self._outputs:
            output.collect_side(tag, record)


@final
class CopyingBroadcastingOutputCollector(_BroadcastingBase[T]):
    """Gives each output but the last a fresh wrapper around the value (object reuse on)."""

    __slots__ = ()

    def collect(self, record: StreamRecord[T]) -> None:
        """Pass fresh wrappers to outputs 0..n-2 and the original to the last."""
        outputs = self._outputs
        last = len(outputs) - 1
        for i, output in enumerate(outputs):
            output.collect(record if i == last else StreamRecord(record.value, record.timestamp))

    def collect_side(self, tag: OutputTag[Any], record: StreamRecord[Any]) -> None:
        """As ``collect``, for a side-output record."""
        outputs = self._outputs
        last = len(outputs) - 1
        for i, output in enumerate(outputs):
            output.collect_side(
                tag, record if i == last else StreamRecord(record.value, record.timestamp)
            )
