"""Outputs that hand records to the next operator of the same chain, synchronously.

Port of Flink's ``ChainingOutput`` and ``CopyingChainingOutput``. Differences: Flink's
``collect(tag, record)`` is ``collect_side``; the copying variant reuses one record wrapper per
output instead of allocating one per record (operators never keep records, so this is safe and
saves an allocation per hop); a side-output record emitted by an operator whose records-out
counter lives here is counted even when no edge takes its tag, as ``CountingOutput`` would.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final

from streamrt.runtime.copying import ATOMS, UNSHARED_LOCAL, copy_value, is_tracked, refcount
from streamrt.runtime.counters import Counter, WatermarkGauge
from streamrt.runtime.elements import (
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.operator import Input, OperatorContext, raise_operator_failure
from streamrt.runtime.output_tag import OutputTag

__all__ = ["ChainingOutput", "CopyingChainingOutput"]

T = TypeVar("T")


class _ChainingBase(Generic[T]):
    """What both chaining outputs share: counters, tag filter, watermarks, error wrapping."""

    __slots__ = (
        "_announced_status",
        "_input",
        "_process",
        "_records_in",
        "_records_out",
        "_tag",
        "_target",
        "watermark_gauge",
    )

    def __init__(
        self,
        operator: Input[T],
        target: OperatorContext,
        *,
        records_out: Counter,
        tag: OutputTag[Any] | None = None,
    ) -> None:
        self._input = operator
        self._process = operator.process_element
        self._target = target
        # the upstream operator's records-out counter, or a discarding one when another output
        # already counts for it (decided once by the chain builder)
        self._records_out = records_out
        self._records_in = target.metrics.records_in
        self._tag = tag
        self._announced_status = WatermarkStatus.ACTIVE
        self.watermark_gauge = WatermarkGauge()

    def emit_watermark(self, watermark: Watermark) -> None:
        """Forward unless this output last announced IDLE (Flink drops watermarks while idle)."""
        if self._announced_status is WatermarkStatus.IDLE:
            return
        self.watermark_gauge.value = watermark.timestamp
        try:
            self._input.process_watermark(watermark)
        except Exception as exc:
            raise_operator_failure(self._target, exc)

    def emit_watermark_status(self, status: WatermarkStatus) -> None:
        """Forward a status only when it changes."""
        if status is self._announced_status:
            return
        self._announced_status = status
        try:
            self._input.process_watermark_status(status)
        except Exception as exc:
            raise_operator_failure(self._target, exc)

    def emit_latency_marker(self, marker: LatencyMarker) -> None:
        """Forward the marker."""
        try:
            self._input.process_latency_marker(marker)
        except Exception as exc:
            raise_operator_failure(self._target, exc)

    def close(self) -> None:
        """Nothing to release: the output owns nothing (Flink, FLINK-20888)."""


@final
class ChainingOutput(_ChainingBase[T]):
    """Passes the emitted record object itself to the next operator (object reuse on)."""

    __slots__ = ()

    def collect(self, record: StreamRecord[T]) -> None:
        """Count and push a main-output record; a side-output edge ignores it."""
        if self._tag is None:
            self._records_out.count += 1
            self._records_in.count += 1
            try:
                self._process(record)
            except Exception as exc:
                raise_operator_failure(self._target, exc)

    def collect_side(self, tag: OutputTag[Any], record: StreamRecord[Any]) -> None:
        """Count the emit; push only when this edge carries ``tag``."""
        self._records_out.count += 1
        if tag == self._tag:
            self._records_in.count += 1
            try:
                self._process(record)
            except Exception as exc:
                raise_operator_failure(self._target, exc)


@final
class CopyingChainingOutput(_ChainingBase[T]):
    """Passes a deep copy of the value to the next operator (object reuse off, the default).

    The next operator can neither see the emitter mutate the value afterwards nor corrupt the
    emitter's state (a reduce accumulator, say) by mutating it. No copy is needed where nobody
    else can reach the value, so an ``exclusive`` output (its operator's only output, so no
    other branch gets the same record) passes the record itself when the value is an atom, or a
    dict that only the record holds and that holds no container (``copying.UNSHARED_LOCAL``).
    """

    __slots__ = ("_exclusive", "_reuse")

    def __init__(
        self,
        operator: Input[T],
        target: OperatorContext,
        *,
        records_out: Counter,
        tag: OutputTag[Any] | None = None,
        exclusive: bool = False,
    ) -> None:
        super().__init__(operator, target, records_out=records_out, tag=tag)
        self._reuse: StreamRecord[Any] = StreamRecord(None)
        self._exclusive = exclusive

    def collect(self, record: StreamRecord[T]) -> None:
        """Count, copy (unless nobody else can reach the value) and push a main-output record."""
        if self._tag is None:
            self._records_out.count += 1
            self._records_in.count += 1
            value = record.value
            t = type(value)
            if self._exclusive and (
                t in ATOMS
                or (t is dict and refcount(value) == UNSHARED_LOCAL and not is_tracked(value))
            ):
                del value  # the record alone holds it again, for the next operator's check
                target: StreamRecord[Any] = record
            else:
                target = self._reuse
                # atoms (str, bytes, numbers) need no copy: skip the call for the commonest values
                target.value = value if t in ATOMS else copy_value(value)
                target.timestamp = record.timestamp
            try:
                self._process(target)
            except Exception as exc:
                raise_operator_failure(self._target, exc)

    def collect_side(self, tag: OutputTag[Any], record: StreamRecord[Any]) -> None:
        """Count the emit; copy and push only when this edge carries ``tag``."""
        self._records_out.count += 1
        if tag == self._tag:
            self._records_in.count += 1
            reuse = self._reuse
            reuse.value = copy_value(record.value)
            reuse.timestamp = record.timestamp
            try:
                self._process(reuse)
            except Exception as exc:
                raise_operator_failure(self._target, exc)
