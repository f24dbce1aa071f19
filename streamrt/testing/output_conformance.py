"""The conformance suite every ``Output`` implementation must pass (house style C20)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from streamrt.runtime.elements import (
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.output_tag import OutputTag

T = TypeVar("T")


__all__ = ["OutputUnderTest", "check_output"]


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
