"""Port of Flink's ``IntervalJoinOperator``: joins two keyed streams by a timestamp interval.

A left element at ``t`` joins every right element of the same key at ``t + lower_bound <= t'
<= t + upper_bound`` (bounds made inclusive at build time: an exclusive lower bound is
``lower + 1``, an exclusive upper one ``upper - 1``, in milliseconds). Each side keeps a buffer
in keyed state, ``key -> {timestamp: [values]}``; an element first joins the other side's
buffer, then waits in its own for later arrivals. A cleanup timer per bucket, namespaced by its
side (``CLEANUP_LEFT``/``CLEANUP_RIGHT``, as in Flink), removes exactly that bucket once the
watermark has passed the last moment anything could still join it, so state stays bounded by
the watermark and a timer costs the same however many buckets its key holds. Elements behind
the watermark are late: sent to the side's late-data output tag when one is set, else dropped
and counted in ``late_records_dropped``. A pair's result carries ``max(left_ts, right_ts)``.
Differences: buffers are plain dicts in keyed state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from operators.function_forms import collector_form
from operators.process_context import SideOutputContext
from operators.two_input import AbstractTwoInputStreamOperator
from streamrt.co_functions import ProcessJoinFunction
from streamrt.errors import GraphError, RecordError
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.outputs.timestamped import TimestampedCollector
from streamrt.runtime.timer_service import InternalTimerService

__all__ = ["IntervalJoinOperator"]

OUT = TypeVar("OUT")

#: ``fn(left, right, ctx, out)``
JoinCallable = Callable[[Any, Any, Any, Any], None]

#: the keyed-state tables of the two buffers: key -> {timestamp: [values]}
LEFT_BUFFER = "interval-join-left"
RIGHT_BUFFER = "interval-join-right"

#: the namespaces of the cleanup timers: which side's bucket a timer removes (Flink's names)
CLEANUP_LEFT = "CLEANUP_LEFT"
CLEANUP_RIGHT = "CLEANUP_RIGHT"


class _JoinContext(SideOutputContext):
    """The ``ctx`` of ``ProcessJoinFunction.process_element``."""

    __slots__ = ("left_ts", "right_ts")

    def __init__(self, collector: TimestampedCollector[Any]) -> None:
        super().__init__(collector)
        self.left_ts = 0
        self.right_ts = 0

    def get_left_timestamp(self) -> int:
        return self.left_ts

    def get_right_timestamp(self) -> int:
        return self.right_ts

    def get_timestamp(self) -> int:
        return max(self.left_ts, self.right_ts)


class IntervalJoinOperator(AbstractTwoInputStreamOperator[OUT, ProcessJoinFunction[Any, Any, OUT]]):
    """Joins left (input 1) and right (input 2) elements of a key within the interval.

    Args:
        function: called per pair.
        lower_bound / upper_bound: the interval, in ms, relative to the left timestamp.
        lower_bound_inclusive / upper_bound_inclusive: whether the bounds themselves join.
        left_late_tag / right_late_tag: side outputs for each side's late elements
            (Flink's ``sideOutputLeftLateData``/``sideOutputRightLateData``).

    Raises:
        GraphError: ``function`` is not a ``ProcessJoinFunction``.
    """

    def __init__(
        self,
        function: ProcessJoinFunction[Any, Any, OUT],
        lower_bound: int,
        upper_bound: int,
        *,
        lower_bound_inclusive: bool = True,
        upper_bound_inclusive: bool = True,
        left_late_tag: OutputTag[Any] | None = None,
        right_late_tag: OutputTag[Any] | None = None,
    ) -> None:
        if not isinstance(function, ProcessJoinFunction):
            msg = f"interval join process() needs a ProcessJoinFunction; got {function!r}"
            raise GraphError(msg)
        super().__init__(function)
        self.lower_bound = lower_bound if lower_bound_inclusive else lower_bound + 1
        self.upper_bound = upper_bound if upper_bound_inclusive else upper_bound - 1
        self._process: JoinCallable = collector_form(function.process_element, 3)
        self._late_tags = (left_late_tag, right_late_tag)

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Build collector, context and timers; both inputs must be keyed."""
        super().setup(context, output)
        if context.key_selector is None or context.key_selector2 is None:
            msg = f"interval join {context.name!r} needs two keyed inputs"
            raise GraphError(msg)
        self._key1 = context.key_selector
        self._key2 = context.key_selector2
        self._collector: TimestampedCollector[OUT] = TimestampedCollector(output)
        self._ctx = _JoinContext(self._collector)
        self.create_timer_service()
        self._bind_buffers()

    def create_timer_service(self) -> InternalTimerService:
        """Cleanup timers of ``(timestamp, key, side)``: the side is the timer's namespace."""
        assert self.state_backend is not None
        self.timer_service = InternalTimerService(
            self.state_backend,
            self.context.processing_time,
            self._on_cleanup_timer,
            _no_processing_time_timers,
            namespaced=True,
        )
        return self.timer_service

    def _bind_buffers(self) -> None:
        backend = self.state_backend
        assert backend is not None
        self._left: dict[Any, dict[int, list[Any]]] = backend.table(LEFT_BUFFER, "map")
        self._right: dict[Any, dict[int, list[Any]]] = backend.table(RIGHT_BUFFER, "map")

    def state_dict(self) -> dict[str, Any]:
        """An independent copy: the buckets are lists that grow in place."""
        state = super().state_dict()
        tables = state["keyed"]["tables"]  # each key's buckets dict is a copy already
        _copy_buckets(tables.get(LEFT_BUFFER, {}), tables.get(RIGHT_BUFFER, {}))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore buffers and cleanup timers (the backend's tables are replaced).

        The buckets are copied, so ``state`` stays unchanged as buffers grow after the restore.
        """
        super().load_state_dict(state)
        self._bind_buffers()
        _copy_buckets(self._left, self._right)

    def _timestamp(self, record: StreamRecord[Any]) -> int:
        ts = record.timestamp
        if ts is None:
            msg = (
                f"interval join {self.context.name!r} got a record without a timestamp "
                f"({record.value!r}); assign timestamps (assign_timestamps_and_watermarks) "
                "on both inputs"
            )
            raise RecordError(msg)
        return ts

    def process_element1(self, record: StreamRecord[Any]) -> None:
        """A left element: join the right buffer in ``[ts + lower, ts + upper]``, then wait."""
        ts = self._timestamp(record)
        if ts < self.current_watermark:
            self._late(record, self._late_tags[0])
            return
        value = record.value
        key = self.state_backend.current_key = self._key1(value)  # type: ignore[union-attr]
        _add(self._left, key, ts, value)
        others = self._right.get(key)
        if others:
            low, high = ts + self.lower_bound, ts + self.upper_bound
            for other_ts, values in others.items():  # the user function cannot touch it
                if low <= other_ts <= high:
                    for other in values:
                        self._emit(value, other, ts, other_ts, record)
        upper = self.upper_bound
        self.timer_service.register_event_time_timer(  # type: ignore[union-attr]
            ts + upper if upper > 0 else ts, CLEANUP_LEFT
        )

    def process_element2(self, record: StreamRecord[Any]) -> None:
        """A right element: join the left buffer in ``[ts - upper, ts - lower]``, then wait."""
        ts = self._timestamp(record)
        if ts < self.current_watermark:
            self._late(record, self._late_tags[1])
            return
        value = record.value
        key = self.state_backend.current_key = self._key2(value)  # type: ignore[union-attr]
        _add(self._right, key, ts, value)
        others = self._left.get(key)
        if others:
            low, high = ts - self.upper_bound, ts - self.lower_bound
            for other_ts, values in others.items():  # the user function cannot touch it
                if low <= other_ts <= high:
                    for other in values:
                        self._emit(other, value, other_ts, ts, record)
        lower = self.lower_bound
        self.timer_service.register_event_time_timer(  # type: ignore[union-attr]
            ts - lower if lower < 0 else ts, CLEANUP_RIGHT
        )

    def _late(self, record: StreamRecord[Any], tag: OutputTag[Any] | None) -> None:
        if tag is None:
            self.metrics.late_records_dropped.count += 1
        else:
            self.output.collect_side(tag, StreamRecord(record.value, record.timestamp))

    def _emit(
        self, left: Any, right: Any, left_ts: int, right_ts: int, record: StreamRecord[Any]
    ) -> None:
        ctx = self._ctx
        ctx.left_ts, ctx.right_ts = left_ts, right_ts
        self._collector.timestamp = max(left_ts, right_ts)
        try:
            self._process(left, right, ctx, self._collector)
        except Exception as exc:  # downstream OperatorErrors pass through
            self.on_user_error(exc, record)

    def _on_cleanup_timer(self, timestamp: int, key: Any, side: Any) -> None:
        """A cleanup timer: drop the one bucket whose last use was ``timestamp``.

        A left bucket at ``t`` is done at ``t + upper`` (``t`` when ``upper <= 0``), a right
        one at ``t - lower`` (``t`` when ``lower >= 0``): the times its timers were set for, so
        the bucket's timestamp follows from the timer's. A timer without a side comes from a
        checkpoint taken before timers had one; it stands for the bucket of either side that
        is done at ``timestamp`` (both, when both are), as each bucket had a timer of its own.
        """
        if side != CLEANUP_RIGHT:
            _remove(self._left, key, timestamp - max(self.upper_bound, 0))
        if side != CLEANUP_LEFT:
            _remove(self._right, key, timestamp + min(self.lower_bound, 0))


def _no_processing_time_timers(timestamp: int, key: Any, side: Any) -> None:
    """Never called: the interval join runs in event time only."""


def _add(buffer: dict[Any, dict[int, list[Any]]], key: Any, ts: int, value: Any) -> None:
    buckets = buffer.get(key)
    if buckets is None:
        buffer[key] = {ts: [value]}
        return
    bucket = buckets.get(ts)
    if bucket is None:
        buckets[ts] = [value]
    else:  # in place: state_dict() copies the buckets, a checkpoint encodes them at once
        bucket.append(value)


def _copy_buckets(*buffers: dict[Any, dict[int, list[Any]]]) -> None:
    """Give every bucket of ``buffers`` its own list (the buckets dicts are not shared)."""
    for buffer in buffers:
        for buckets in buffer.values():
            for ts, values in buckets.items():
                buckets[ts] = list(values)


def _remove(buffer: dict[Any, dict[int, list[Any]]], key: Any, ts: int) -> None:
    buckets = buffer.get(key)
    if buckets is None:
        return
    # absent when two timers stand for one bucket (an old checkpoint's and a new one)
    buckets.pop(ts, None)
    if not buckets:
        del buffer[key]
