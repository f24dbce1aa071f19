"""An Output decorator that counts an operator's emitted records.

Port of Flink's ``CountingOutput``. The chain builder adds it only where no chained child
already counts the operator's records-out (Flink since FLINK-30536), so a record is counted once.
Side-output records are counted too.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final

from streamrt.runtime.counters import Counter, WatermarkGauge
from streamrt.runtime.elements import LatencyMarker, StreamRecord, Watermark, WatermarkStatus
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.outputs.output import WatermarkGaugeExposingOutput

__all__ = ["CountingOutput"]

T = TypeVar("T")


@final
class CountingOutput(Generic[T]):
    """Counts every ``collect``/``collect_side`` into ``counter``, then delegates."""

    __slots__ = ("_collect", "_counter", "_output")

    def __init__(self, output: WatermarkGaugeExposingOutput[T], counter: Counter) -> None:
        self._output = output
        self._collect = output.collect
        self._counter = counter

    @property
    def watermark_gauge(self) -> WatermarkGauge:
        """The wrapped output's gauge."""
        return self._output.watermark_gauge

    def collect(self, record: StreamRecord[T]) -> None:
        """Count one main-output record and pass it on."""
        self._counter.count += 1
        self._collect(record)

    def collect_side(self, tag: OutputTag[Any], record: StreamRecord[Any]) -> None:
        """Count one side-output record and pass it on."""
        self._counter.count += 1
        self._output.collect_side(tag, record)

    def emit_watermark(self, watermark: Watermark) -> None:
        """Delegate."""
        self._output.emit_watermark(watermark)

    def emit_watermark_status(self, status: WatermarkStatus) -> None:
        """Delegate."""
        self._output.emit_watermark_status(status)

    def emit_latency_marker(self, marker: LatencyMarker) -> None:
        """Delegate."""
        self._output.emit_latency_marker(marker)

    def close(self) -> None:
        """Delegate."""
        self._output.close()
