"""The Output protocols: what user functions and operators emit into.

Port of Flink's ``Collector``, ``Output`` and ``WatermarkGaugeExposingOutput``. Differences:
Flink's overloaded ``collect(tag, record)`` is ``collect_side(tag, record)`` here; Python has no
overloading, and a separate method keeps the tag test off the main-output path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from streamrt.runtime.counters import WatermarkGauge
    from streamrt.runtime.elements import LatencyMarker, StreamRecord, Watermark, WatermarkStatus
    from streamrt.runtime.output_tag import OutputTag

__all__ = ["Collector", "Output", "WatermarkGaugeExposingOutput"]

T_contra = TypeVar("T_contra", contravariant=True)
T = TypeVar("T")


class Collector(Protocol[T_contra]):
    """What user functions emit values into (Flink's ``Collector``)."""

    def collect(self, value: T_contra, /) -> None:
        """Emit one value."""
        ...

    def close(self) -> None:
        """Flush anything buffered; the collector is not used afterwards."""
        ...


class Output(Protocol[T]):
    """What operators emit records and control elements into (Flink's ``Output``).

    Every method is synchronous: a chained hop is a plain call, never an ``await``.
    """

    def collect(self, record: StreamRecord[T], /) -> None:
        """Emit a record to the main output."""
        ...

    def collect_side(self, tag: OutputTag[Any], record: StreamRecord[Any], /) -> None:
        """Emit a record to the side output ``tag`` (only edges with an equal tag take it)."""
        ...

    def emit_watermark(self, watermark: Watermark, /) -> None:
        """Forward a watermark to every downstream consumer."""
        ...

    def emit_watermark_status(self, status: WatermarkStatus, /) -> None:
        """Forward ACTIVE/IDLE to every downstream consumer."""
        ...

    def emit_latency_marker(self, marker: LatencyMarker, /) -> None:
        """Forward a latency marker to one downstream consumer."""
        ...

    def close(self) -> None:
        """Release what the output owns; idempotent."""
        ...


class WatermarkGaugeExposingOutput(Output[T], Protocol[T]):
    """An Output that remembers the last watermark it passed on (Flink's interface of this name).

    The gauge feeds the ``current_input_watermark`` of the operator behind a chaining output and
    the ``current_output_watermark`` of the operator in front of any output.
    """

    @property
    def watermark_gauge(self) -> WatermarkGauge:
        """The last watermark this output forwarded."""
        ...
