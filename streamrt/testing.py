"""Test helpers shipped with streamrt (house style C20): sinks, sources, harnesses, conformance.

* ``CollectSink``: a sink whose ``values`` (and ``records``) hold what reached it.
* ``ListSource``: a bounded source of given values that can fail on purpose (``FAIL``).
* ``ManualProcessingTimeService``: processing time that moves only when a test says so.
* ``OperatorHarness``: one operator, records and watermarks in, emitted elements out.
* ``check_output``: the conformance suite every ``Output`` implementation must pass.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from streamrt.runtime.counters import WatermarkGauge
from streamrt.runtime.elements import (
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.failed_records import ErrorPolicy
from streamrt.runtime.metric_groups import OperatorMetrics
from streamrt.runtime.operator import OperatorContext, StreamOperator
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.processing_time import Cancellable
from streamrt.runtime.sink_writer import SinkWriterBase, SinkWriterContext
from streamrt.runtime.source_reader import SourceBatch, SourceReaderBase, SourceReaderContext

__all__ = [
    "FAIL",
    "CollectSink",
    "ListSource",
    "ManualProcessingTimeService",
    "OperatorHarness",
    "OutputUnderTest",
    "check_output",
]

T = TypeVar("T")


class _Fail:
    def __repr__(self) -> str:
        return "FAIL"


#: Put into a ``ListSource``'s values: reading it raises ``RuntimeError("FAIL injected")``.
FAIL: Final = _Fail()


class CollectSink(Generic[T]):
    """Collects every record that reaches it, from all subtasks, in arrival order.

    Attributes:
        records: ``(value, timestamp)`` pairs.
    """

    def __init__(self) -> None:
        self.records: list[tuple[T, int | None]] = []
        self._waiters: list[tuple[int, asyncio.Event]] = []

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Return once ``count`` records have arrived; fail after ``timeout`` seconds.

        Raises:
            TimeoutError: fewer records arrived in time.
        """
        if len(self.records) >= count:
            return
        event = asyncio.Event()
        self._waiters.append((count, event))
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            msg = f"CollectSink got {len(self.records)} of {count} records in {timeout} s"
            raise TimeoutError(msg) from None
        finally:
            self._waiters = [w for w in self._waiters if w[1] is not event]

    def _notify(self) -> None:
        have = len(self.records)
        for count, event in self._waiters:
            if have >= count:
                event.set()

    @property
    def values(self) -> list[T]:
        """The values, in arrival order."""
        return [value for value, _ in self.records]

    @property
    def timestamps(self) -> list[int | None]:
        """The timestamps, in arrival order."""
        return [ts for _, ts in self.records]

    def create_writer(self, context: SinkWriterContext) -> _CollectWriter[T]:
        """A writer appending to this sink's list."""
        return _CollectWriter(self)


class _CollectWriter(SinkWriterBase, Generic[T]):
    def __init__(self, sink: CollectSink[T]) -> None:
        self._sink = sink
        self._append = sink.records.append

    def write(self, value: T, timestamp: int | None) -> None:
        self._append((value, timestamp))
        if self._sink._waiters:  # noqa: SLF001  (the writer is part of the sink)
            self._sink._notify()  # noqa: SLF001


class ListSource(Generic[T]):
    """A bounded, splittable source of ``values`` that fails where ``FAIL`` stands.

    Args:
        values: the records; ``FAIL`` entries raise when reached.
        batch_size: records per fetched batch.
        timestamps: optional per-record source timestamps (like Kafka's).
    """

    bounded = True

    def __init__(
        self,
        values: Sequence[T | _Fail],
        batch_size: int = 1024,
        timestamps: Sequence[int] | None = None,
    ) -> None:
        self.values = list(values)
        self.batch_size = batch_size
        self.timestamps = list(timestamps) if timestamps is not None else None

    def create_reader(self, context: SourceReaderContext) -> _ListReader[T]:
        """The reader of this subtask's share (every p-th value)."""
        return _ListReader(self, context)


class _ListReader(SourceReaderBase, Generic[T]):
    def __init__(self, source: ListSource[T], context: SourceReaderContext) -> None:
        idx = range(context.subtask_index, len(source.values), context.parallelism)
        self._values = [source.values[i] for i in idx]
        self._timestamps = [source.timestamps[i] for i in idx] if source.timestamps else None
        self._split = f"list-{context.subtask_index}"
        self._next = int(context.restored_positions.get(self._split, 0))
        self._batch = source.batch_size

    async def fetch(self) -> list[SourceBatch[T]] | None:
        if self._next >= len(self._values):
            return None
        end = min(self._next + self._batch, len(self._values))
        chunk = self._values[self._next : end]
        for offset, value in enumerate(chunk):
            if value is FAIL:
                msg = f"FAIL injected at index {self._next + offset} of {self._split}"
                raise RuntimeError(msg)
        ts = self._timestamps[self._next : end] if self._timestamps is not None else None
        self._next = end
        return [SourceBatch(chunk, self._split, ts, position=end)]  # type: ignore[arg-type]


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
    ) -> None:
        self.operator = operator
        self.processing_time = ManualProcessingTimeService()
        self.output = _RecordingOutput()
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


# -- the Output conformance suite -------------------------------------------------------------


@dataclass
class OutputUnderTest:
    """One Output wired to a recording downstream, as ``check_output`` needs it.

    Attributes:
        output: the Output (or Collector) under test.
        drain: returns, and forgets, what reached the downstream since the last call, as
            ``("record", value, ts)``, ``("side", tag_id, value, ts)``, ``("watermark", ts)``,
            ``("status", status)``, ``("latency", marker)`` tuples.
        edge_tag: the side-output tag the output's edge carries (``None``: main output).
        copies: whether the downstream receives a copy of each value (object reuse off).
        emit: how to emit a main-output value with a timestamp (records by default).
        emit_side: how to emit a side-output value.
        gauge: whether the output exposes ``watermark_gauge``.
        downstreams: how many downstream consumers a latency marker could reach (it must
            reach exactly one of them).
    """

    output: Any
    drain: Callable[[], list[tuple[Any, ...]]]
    edge_tag: OutputTag[Any] | None = None
    copies: bool = False
    emit: Callable[[Any, int | None], None] | None = None
    emit_side: Callable[[OutputTag[Any], Any, int | None], None] | None = None
    gauge: bool = True
    downstreams: int = 1
    notes: list[str] = field(default_factory=list)

    def send(self, value: Any, timestamp: int | None) -> None:
        """Emit a main-output value."""
        if self.emit is not None:
            self.emit(value, timestamp)
        else:
            self.output.collect(StreamRecord(value, timestamp))

    def send_side(self, tag: OutputTag[Any], value: Any, timestamp: int | None) -> None:
        """Emit a side-output value."""
        if self.emit_side is not None:
            self.emit_side(tag, value, timestamp)
        else:
            self.output.collect_side(tag, StreamRecord(value, timestamp))


def check_output(make: Callable[[], OutputUnderTest]) -> None:
    """Assert the contract every Output implementation shares (house style C20).

    ``make`` is called once per check, so each starts from a fresh output. Raises
    ``AssertionError`` naming the broken rule.
    """
    other = OutputTag[Any]("conformance-other")

    # 1. main-output records arrive in order, with their timestamps, unless the edge is a side
    #    output, which ignores main records
    case = make()
    for i in range(5):
        case.send({"i": i}, 1000 + i)
    got = case.drain()
    if case.edge_tag is None:
        expected = [("record", {"i": i}, 1000 + i) for i in range(5)]
        assert got == expected, f"main records: expected {expected}, got {got}"
    else:
        assert got == [], f"a side-output edge must ignore main records; got {got}"

    # 2. side-output records reach only edges with an equal tag
    case = make()
    case.send_side(other, "x", 7)
    assert case.drain() == [], "a record for another tag must not reach this edge"
    if case.edge_tag is not None:
        same = OutputTag[Any](case.edge_tag.tag_id)  # equal by id, not identity
        case.send_side(same, "y", 8)
        got = case.drain()
        assert got == [("side", case.edge_tag.tag_id, "y", 8)] or got == [("record", "y", 8)], (
            f"a side record with this edge's tag must arrive once; got {got}"
        )

    # 3. watermarks are forwarded, and the gauge shows the last one
    case = make()
    if hasattr(case.output, "emit_watermark"):
        case.output.emit_watermark(Watermark(10))
        case.output.emit_watermark(Watermark(20))
        got = [e for e in case.drain() if e[0] == "watermark"]
        assert got == [("watermark", 10), ("watermark", 20)], f"watermarks: got {got}"
        if case.gauge:
            assert case.output.watermark_gauge.value == 20, "the gauge must show the last watermark"

        # 4. status is forwarded once per change; watermarks are dropped while idle
        case = make()
        case.output.emit_watermark_status(WatermarkStatus.IDLE)
        case.output.emit_watermark_status(WatermarkStatus.IDLE)
        case.output.emit_watermark(Watermark(30))
        case.output.emit_watermark_status(WatermarkStatus.ACTIVE)
        case.output.emit_watermark(Watermark(40))
        got = case.drain()
        expected_status = [
            ("status", WatermarkStatus.IDLE),
            ("status", WatermarkStatus.ACTIVE),
            ("watermark", 40),
        ]
        assert got == expected_status, f"idle handling: expected {expected_status}, got {got}"

        # 5. a latency marker reaches exactly one downstream consumer
        case = make()
        marker = LatencyMarker(1.0, 1, 0)
        case.output.emit_latency_marker(marker)
        got = [e for e in case.drain() if e[0] == "latency"]
        expected_markers = 1 if case.downstreams else 0
        assert len(got) == expected_markers, f"latency marker: expected one, got {got}"

    # 6. copy semantics: with copies, mutating after emit does not reach downstream
    if case.edge_tag is None:
        case = make()
        value = {"n": 1}
        case.send(value, None)
        value["n"] = 2
        got = case.drain()
        delivered = got[0][1]
        if case.copies:
            assert delivered == {"n": 1}, "a copying output must deliver the value as emitted"
            assert delivered is not value, "a copying output must not deliver the same object"
        else:
            assert delivered is value, "a non-copying output must deliver the emitted object"
