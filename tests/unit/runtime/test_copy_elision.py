"""Copies skipped where nobody else can reach the value (object reuse off, docs/object-reuse.md).

The isolation these skips must keep is tested end to end in tests/e2e/test_copy_semantics.py;
here: that the skips happen, so the default path stays cheap, and exactly where documented.
"""

from __future__ import annotations

import json
from typing import Any

from streamrt.runtime.channel import LocalChannel
from streamrt.runtime.copying import UNSHARED_LOCAL, UNSHARED_PARAM, unshared_flat
from streamrt.runtime.counters import Counter
from streamrt.runtime.elements import LatencyMarker, StreamRecord, Watermark, WatermarkStatus
from streamrt.runtime.outputs import CopyingChainingOutput, RecordWriterOutput
from streamrt.runtime.partitioners import ForwardPartitioner, RebalancePartitioner
from streamrt.runtime.record_writer import create_record_writer
from tests.conformance.test_outputs import context


class Received:
    """A downstream input keeping the value objects it received."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def process_element(self, record: StreamRecord[Any], /) -> None:
        self.values.append(record.value)

    def process_watermark(self, watermark: Watermark, /) -> None:
        raise AssertionError(watermark)

    def process_watermark_status(self, status: WatermarkStatus, /) -> None:
        raise AssertionError(status)

    def process_latency_marker(self, marker: LatencyMarker, /) -> None:
        raise AssertionError(marker)


def chained(*, exclusive: bool) -> tuple[CopyingChainingOutput[Any], Received]:
    received = Received()
    output: CopyingChainingOutput[Any] = CopyingChainingOutput(
        received, context(), records_out=Counter(), exclusive=exclusive
    )
    return output, received


def test_this_interpreter_can_tell_an_unshared_value() -> None:
    # CPython with the GIL (what CI and the benchmarks run): the skip is on, not silently off
    assert UNSHARED_LOCAL > 0
    assert UNSHARED_PARAM > 0


def test_unshared_flat_is_true_only_for_a_dict_of_atoms_that_only_its_record_holds() -> None:
    record = StreamRecord(json.loads('{"user": "u1", "amount": 12.5, "ok": true, "n": null}'))
    assert unshared_flat(record)
    second = record.value
    assert not unshared_flat(record)
    del second
    record.value["tags"] = ["a"]  # a container inside: the dict is tracked now
    assert not unshared_flat(record)
    record.value = [1, 2]  # only dicts are skipped
    assert not unshared_flat(record)


def test_an_exclusive_output_passes_a_fresh_flat_dict_itself() -> None:
    output, received = chained(exclusive=True)
    record = StreamRecord({"n": 1}, 5)
    output.collect(record)
    assert received.values[0] is record.value


def test_an_exclusive_output_copies_a_dict_someone_else_holds() -> None:
    output, received = chained(exclusive=True)
    held = {"n": 1}
    output.collect(StreamRecord(held, 5))
    assert received.values == [{"n": 1}]
    assert received.values[0] is not held


def test_an_exclusive_output_copies_a_dict_holding_a_container() -> None:
    output, received = chained(exclusive=True)
    shared = ["x"]
    output.collect(StreamRecord({"tags": shared}))
    assert received.values == [{"tags": ["x"]}]
    assert received.values[0]["tags"] is not shared


def test_an_output_sharing_its_operator_with_other_branches_always_copies() -> None:
    output, received = chained(exclusive=False)
    record = StreamRecord({"n": 1})
    output.collect(record)
    assert received.values == [{"n": 1}]
    assert received.values[0] is not record.value


def writer_output(channels: list[LocalChannel], partitioner: Any = None) -> RecordWriterOutput[Any]:
    writer = create_record_writer(
        channels, partitioner or ForwardPartitioner(), buffer_size=1, copy_values=True
    )
    return RecordWriterOutput(writer, Counter())


def test_a_channel_takes_a_fresh_flat_dict_itself_and_copies_a_held_one() -> None:
    channel = LocalChannel(capacity=100)
    output = writer_output([channel])
    fresh = StreamRecord({"n": 1})
    output.collect(fresh)
    assert channel.pop()[0].value is fresh.value
    held = {"n": 2}
    output.collect(StreamRecord(held))
    delivered = channel.pop()[0].value
    assert delivered == {"n": 2}
    assert delivered is not held


def test_a_second_edge_taking_the_same_value_gets_a_copy() -> None:
    first, second = LocalChannel(capacity=100), LocalChannel(capacity=100)
    out_a, out_b = writer_output([first]), writer_output([second])
    record = StreamRecord({"n": 1})
    out_a.collect(record)
    out_b.collect(record)  # the first channel's buffer holds the value now
    a, b = first.pop()[0].value, second.pop()[0].value
    assert a is record.value
    assert b == a
    assert b is not a


def test_a_partitioned_channel_skips_the_copy_too() -> None:
    channels = [LocalChannel(capacity=100), LocalChannel(capacity=100)]
    output = writer_output(channels, RebalancePartitioner())
    records = [StreamRecord({"n": i}) for i in range(2)]
    for record in records:
        output.collect(record)
    delivered = [channel.pop()[0].value for channel in channels]
    assert {id(v) for v in delivered} == {id(r.value) for r in records}


def test_a_bytearray_inside_an_unshared_flat_dict_is_shared_as_documented() -> None:
    # the documented limit: the collector does not track buffers, so nothing shows the second
    # holder of ``buffer`` (docs/object-reuse.md, "What is never copied")
    output, received = chained(exclusive=True)
    buffer = bytearray(b"ab")
    output.collect(StreamRecord({"payload": buffer}))
    assert received.values[0]["payload"] is buffer
