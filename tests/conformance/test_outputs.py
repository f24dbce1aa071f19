"""Every Output implementation passes the shared conformance suite (house style C20)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streamrt.runtime.channel import LocalChannel
from streamrt.runtime.counters import DISCARDING_COUNTER, Counter
from streamrt.runtime.elements import (
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.metric_groups import OperatorMetrics
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.outputs import (
    BroadcastingOutputCollector,
    ChainingOutput,
    CopyingBroadcastingOutputCollector,
    CopyingChainingOutput,
    CountingOutput,
    RecordWriterOutput,
    TimestampedCollector,
)
from streamrt.runtime.partitioners import ForwardPartitioner
from streamrt.runtime.record_writer import create_record_writer
from streamrt.testing import ManualProcessingTimeService, OutputUnderTest, check_output

SIDE = OutputTag[Any]("side")


class Recorder:
    """A downstream operator input that records what reaches it."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def process_element(self, record: StreamRecord[Any]) -> None:
        self.events.append(("record", record.value, record.timestamp))

    def process_watermark(self, watermark: Watermark) -> None:
        self.events.append(("watermark", watermark.timestamp))

    def process_watermark_status(self, status: WatermarkStatus) -> None:
        self.events.append(("status", status))

    def process_latency_marker(self, marker: LatencyMarker) -> None:
        self.events.append(("latency", marker))

    def drain(self) -> list[tuple[Any, ...]]:
        events, self.events = self.events, []
        return events


def context() -> OperatorContext:
    return OperatorContext(
        operator_id=2,
        name="downstream",
        subtask_index=0,
        parallelism=1,
        max_parallelism=128,
        job_name="conformance",
        task_name="t",
        object_reuse=False,
        metrics=OperatorMetrics(),
        processing_time=ManualProcessingTimeService(),
    )


def chaining(tag: OutputTag[Any] | None = None) -> OutputUnderTest:
    rec = Recorder()
    return OutputUnderTest(
        ChainingOutput(rec, context(), records_out=Counter(), tag=tag), rec.drain, tag
    )


def copying_chaining(tag: OutputTag[Any] | None = None) -> OutputUnderTest:
    rec = Recorder()
    out = CopyingChainingOutput(rec, context(), records_out=Counter(), tag=tag)
    return OutputUnderTest(out, rec.drain, tag, copies=True)


def exclusive_copying_chaining() -> OutputUnderTest:
    rec = Recorder()
    out = CopyingChainingOutput(rec, context(), records_out=Counter(), exclusive=True)
    return OutputUnderTest(out, rec.drain, copies=True)


def counting() -> OutputUnderTest:
    rec = Recorder()
    inner = CopyingChainingOutput(rec, context(), records_out=DISCARDING_COUNTER)
    return OutputUnderTest(CountingOutput(inner, Counter()), rec.drain, copies=True)


def _broadcast(copying: bool) -> OutputUnderTest:
    first, second = Recorder(), Recorder()
    cls = ChainingOutput if copying else CopyingChainingOutput
    children = [cls(r, context(), records_out=DISCARDING_COUNTER) for r in (first, second)]
    collector = (CopyingBroadcastingOutputCollector if copying else BroadcastingOutputCollector)(
        children
    )

    def drain() -> list[tuple[Any, ...]]:
        a, b = first.drain(), second.drain()
        assert [e for e in a if e[0] != "latency"] == [e for e in b if e[0] != "latency"], (
            "every branch must see the same records, watermarks and statuses"
        )
        return a + [e for e in b if e[0] == "latency"]

    return OutputUnderTest(collector, drain, copies=not copying, downstreams=2)


def record_writer(copy_values: bool, tag: OutputTag[Any] | None = None) -> OutputUnderTest:
    channel = LocalChannel(capacity=100)
    channel.connect(0, lambda _: None)
    writer = create_record_writer(
        [channel], ForwardPartitioner(), buffer_size=3, copy_values=copy_values
    )
    output: RecordWriterOutput[Any] = RecordWriterOutput(writer, Counter(), tag)

    def drain() -> list[tuple[Any, ...]]:
        writer.flush_all()
        events: list[tuple[Any, ...]] = []
        while len(channel):
            message = channel.pop()
            if isinstance(message, list):
                events.extend(("record", r.value, r.timestamp) for r in message)
            elif isinstance(message, Watermark):
                events.append(("watermark", message.timestamp))
            elif isinstance(message, WatermarkStatus):
                events.append(("status", message))
            elif isinstance(message, LatencyMarker):
                events.append(("latency", message))
        return events

    return OutputUnderTest(output, drain, tag, copies=copy_values)


def timestamped() -> OutputUnderTest:
    rec = Recorder()
    inner = CopyingChainingOutput(rec, context(), records_out=DISCARDING_COUNTER)
    collector: TimestampedCollector[Any] = TimestampedCollector(inner)

    def emit(value: Any, timestamp: int | None) -> None:
        if timestamp is None:
            collector.erase_timestamp()
        else:
            collector.set_absolute_timestamp(timestamp)
        collector.collect(value)

    def emit_side(tag: OutputTag[Any], value: Any, timestamp: int | None) -> None:
        if timestamp is not None:
            collector.set_absolute_timestamp(timestamp)
        collector.collect_side(tag, value)

    return OutputUnderTest(collector, rec.drain, None, copies=True, emit=emit, emit_side=emit_side)


CASES: dict[str, Callable[[], OutputUnderTest]] = {
    "ChainingOutput": chaining,
    "ChainingOutput[side]": lambda: chaining(SIDE),
    "CopyingChainingOutput": copying_chaining,
    "CopyingChainingOutput[side]": lambda: copying_chaining(SIDE),
    "CopyingChainingOutput[exclusive]": exclusive_copying_chaining,
    "CountingOutput": counting,
    "BroadcastingOutputCollector": lambda: _broadcast(copying=False),
    "CopyingBroadcastingOutputCollector": lambda: _broadcast(copying=True),
    "RecordWriterOutput[copy]": lambda: record_writer(True),
    "RecordWriterOutput[reuse]": lambda: record_writer(False),
    "RecordWriterOutput[side]": lambda: record_writer(True, SIDE),
    "TimestampedCollector": timestamped,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_conformance(name: str) -> None:
    check_output(CASES[name])


def test_every_output_class_is_covered() -> None:
    import streamrt.runtime.outputs as outputs

    classes = {
        n
        for n in outputs.__all__
        if n not in {"Output", "Collector", "WatermarkGaugeExposingOutput"}
    }
    covered = {name.split("[")[0] for name in CASES}
    assert classes == covered


def test_counting_output_counts_main_and_side_records() -> None:
    rec = Recorder()
    counter = Counter()
    output = CountingOutput(
        CopyingChainingOutput(rec, context(), records_out=DISCARDING_COUNTER), counter
    )
    output.collect(StreamRecord(1))
    output.collect_side(SIDE, StreamRecord(2))
    assert counter.count == 2
    assert rec.drain() == [("record", 1, None)]


def test_chaining_output_counts_upstream_out_and_downstream_in() -> None:
    rec = Recorder()
    ctx = context()
    upstream_out = Counter()
    output = ChainingOutput(rec, ctx, records_out=upstream_out)
    for i in range(3):
        output.collect(StreamRecord(i))
    output.collect_side(SIDE, StreamRecord(9))  # emitted, but no edge takes it
    assert (upstream_out.count, ctx.metrics.records_in.count) == (4, 3)


def test_copying_broadcast_gives_each_branch_but_the_last_a_fresh_wrapper() -> None:
    seen: list[StreamRecord[Any]] = []

    class Keep(Recorder):
        def process_element(self, record: StreamRecord[Any]) -> None:
            seen.append(record)

    children = [ChainingOutput(Keep(), context(), records_out=DISCARDING_COUNTER) for _ in range(3)]
    record = StreamRecord({"v": 1}, 5)
    CopyingBroadcastingOutputCollector(children).collect(record)
    assert seen[2] is record
    assert seen[0] is not record and seen[1] is not record and seen[0] is not seen[1]
    assert all(r.value is record.value and r.timestamp == 5 for r in seen)
