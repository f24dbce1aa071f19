"""OperatorHarness: one operator, records and watermarks in, emitted elements out."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from streamrt.runtime.counters import WatermarkGauge
from streamrt.runtime.elements import (
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.failed_records import ErrorPolicy
from streamrt.runtime.mailbox import Mailbox
from streamrt.runtime.metric_groups import OperatorMetrics
from streamrt.runtime.operator import OperatorContext, StreamOperator
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.processing_time import Cancellable

T = TypeVar("T")

__all__ = ["ManualProcessingTimeService", "OperatorHarness"]


class _ManualTimer:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualProcessingTimeService:
    """Processing time that advances only through ``advance_to`` (deterministic tests)."""

    def __init__(self, now_ms: int = 0) -> None:
        self.now_ms = now_ms
        self._timers: list[tuple[int, int, _ManualTimer, Callable[[int], None]]] = []
        self._seq = itertools.count()

    def current_processing_time(self) -> int:
        """The manual clock."""
        return self.now_ms

    def register_timer(self, timestamp_ms: int, callback: Callable[[int], None]) -> Cancellable:
        """Fire ``callback(timestamp_ms)`` when the clock reaches ``timestamp_ms``."""
        handle = _ManualTimer()
        heapq.heappush(self._timers, (timestamp_ms, next(self._seq), handle, callback))
        return handle

    def advance_to(self, now_ms: int) -> None:
        """Move the clock and fire every due timer, earliest first."""
        self.now_ms = now_ms
        while self._timers and self._timers[0][0] <= now_ms:
            ts, _, handle, callback = heapq.heappop(self._timers)
            if not handle.cancelled:
                callback(ts)


class _RecordingOutput:
    """An Output that records what the operator under test emits."""

    def __init__(self) -> None:
        self.elements: list[Any] = []
        self.watermark_gauge = WatermarkGauge()

    def collect(self, record: StreamRecord[Any]) -> None:
        self.elements.append(StreamRecord(record.value, record.timestamp))

    def collect_side(self, tag: OutputTag[Any], record: StreamRecord[Any]) -> None:
        self.elements.append((tag, StreamRecord(record.value, record.timestamp)))

    def emit_watermark(self, watermark: Watermark) -> None:
        self.watermark_gauge.value = watermark.timestamp
        self.elements.append(watermark)

    def emit_watermark_status(self, status: WatermarkStatus) -> None:
        self.elements.append(status)

    def emit_latency_marker(self, marker: LatencyMarker) -> None:
        self.elements.append(marker)

    def close(self) -> None:
        return None


class OperatorHarness(Generic[T]):
    """Drives one operator without a job (Flink's ``OneInputStreamOperatorTestHarness``).

    Args:
        operator: the operator under test (a fresh instance).
        key_selector: makes the operator keyed (state, timers).
        key_selector2: the second input's key selector (two-input operators).
        subtask_index / parallelism: its place.
        name: its name in errors.
    """

    def __init__(
        self,
        operator: StreamOperator[T],
        *,
        key_selector: Callable[[Any], Any] | None = None,
        subtask_index: int = 0,
        parallelism: int = 1,
        name: str = "operator under test",
        error_policy: ErrorPolicy = "fail",
        key_selector2: Callable[[Any], Any] | None = None,
    ) -> None:
        self.operator = operator
        self.processing_time = ManualProcessingTimeService()
        self.output = _RecordingOutput()
        #: mails the operator puts (async results); ``run_mails`` runs them, as a task would
        self.mailbox = Mailbox(lambda: None)
        self.context = OperatorContext(
            operator_id=1,
            name=name,
            subtask_index=subtask_index,
            parallelism=parallelism,
            max_parallelism=128,
            job_name="harness",
            task_name=name,
            object_reuse=False,
            metrics=OperatorMetrics(),
            processing_time=self.processing_time,
            key_selector=key_selector,
            error_policy=error_policy,
            key_selector2=key_selector2,
            mailbox=self.mailbox,
        )
        operator.setup(self.context, self.output)

    async def open(self) -> OperatorHarness[T]:
        """Open the operator; returns the harness."""
        await self.operator.open()
        return self

    def process_element(self, value: T, timestamp: int | None = None) -> None:
        """Push one record."""
        self.operator.process_element(StreamRecord(value, timestamp))

    def process_elements(self, values: Iterable[T]) -> None:
        """Push several records without timestamps."""
        for value in values:
            self.process_element(value)

    def process_watermark(self, timestamp: int) -> None:
        """Push a watermark."""
        self.operator.process_watermark(Watermark(timestamp))

    def advance_processing_time(self, now_ms: int) -> None:
        """Move processing time, firing due timers."""
        self.processing_time.advance_to(now_ms)

    async def run_mails(self) -> int:
        """Run the mails the operator has put so far (as its task would between batches)."""
        return await self.mailbox.run_pending()

    @property
    def emitted(self) -> list[Any]:
        """Everything emitted, in order: records, (tag, record) pairs, watermarks, statuses."""
        return self.output.elements

    def values(self) -> list[Any]:
        """The values of main-output records emitted so far."""
        return [e.value for e in self.output.elements if isinstance(e, StreamRecord)]

    def side_values(self, tag: OutputTag[Any]) -> list[Any]:
        """The values emitted to side output ``tag``."""
        return [e[1].value for e in self.output.elements if isinstance(e, tuple) and e[0] == tag]

    def watermarks(self) -> list[int]:
        """The watermarks emitted so far."""
        return [e.timestamp for e in self.output.elements if isinstance(e, Watermark)]

    async def close(self) -> None:
        """Finish and close the operator."""
        await self.operator.finish()
        await self.operator.close()
