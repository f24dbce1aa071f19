"""Window assigners: which windows an element belongs to, and the trigger they default to.

Port of Flink's ``WindowAssigner`` family, with PyFlink's names. Event-time assigners use the
record's timestamp (a record without one is a ``RecordError``: assign timestamps first);
processing-time assigners use the operator's clock when the element arrives. Session assigners
are *merging*: each element gets its own window ``[t, t + gap)``, and windows of a key that
overlap or touch are merged into one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from streamrt.errors import GraphError, RecordError
from streamrt.windowing.triggers import (
    EventTimeTrigger,
    NeverTrigger,
    ProcessingTimeTrigger,
    Trigger,
)
from streamrt.windowing.windows import GlobalWindow, TimeWindow, Window, merge_time_windows

__all__ = [
    "DynamicEventTimeSessionWindows",
    "DynamicProcessingTimeSessionWindows",
    "EventTimeSessionWindows",
    "GlobalWindows",
    "MergeCallback",
    "MergingWindowAssigner",
    "ProcessingTimeSessionWindows",
    "SlidingEventTimeWindows",
    "SlidingProcessingTimeWindows",
    "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows",
    "WindowAssigner",
    "WindowAssignerContext",
]


class WindowAssignerContext(Protocol):
    """What an assigner may ask the operator."""

    def get_current_processing_time(self) -> int:
        """Wall-clock time, epoch ms."""
        ...


#: ``callback(merge_result, merged_windows)``: ``merged_windows`` become ``merge_result``.
MergeCallback = Callable[[Any, list[Any]], None]


class WindowAssigner(ABC):
    """Assigns each element zero or more windows."""

    @abstractmethod
    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows ``element`` (with event time ``timestamp``) belongs to."""

    @abstractmethod
    def get_default_trigger(self) -> Trigger:
        """The trigger used when ``.trigger()`` is not called."""

    @abstractmethod
    def is_event_time(self) -> bool:
        """Whether windows are in event time (lateness and cleanup follow the watermark)."""


class MergingWindowAssigner(WindowAssigner):
    """An assigner whose windows may merge (sessions)."""

    @abstractmethod
    def merge_windows(self, windows: Sequence[Window], callback: MergeCallback) -> None:
        """Call ``callback(result, merged)`` for each group of ``windows`` that merge."""


def _positive(value: object, what: str, owner: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        msg = f"{owner}: {what} must be a positive int of milliseconds; got {value!r}"
        raise GraphError(msg)
    return int(value)  # a Time is an int; keep the plain int


def _offset(value: object, bound: int, bound_name: str, owner: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not -bound < value < bound:
        msg = (
            f"{owner}: offset must be an int of milliseconds with |offset| < {bound_name} "
            f"({bound}); got {value!r}"
        )
        raise GraphError(msg)
    return int(value)


def _event_timestamp(timestamp: int | None, owner: object) -> int:
    if timestamp is None:
        msg = (
            f"{owner!r} needs event time, but a record has no timestamp; call "
            "assign_timestamps_and_watermarks() before the window, or use a processing-time "
            "assigner"
        )
        raise RecordError(msg)
    return timestamp


def _window_start(timestamp: int, offset: int, size: int) -> int:
    # Python's % is never negative for size > 0, so this holds for timestamps before 1970 too
    return timestamp - (timestamp - offset) % size


class _Tumbling(WindowAssigner):
    _owner = ""

    def __init__(self, size: int, offset: int = 0) -> None:
        self.size = _positive(size, "size", self._owner)
        self.offset = _offset(offset, self.size, "size", self._owner)

    def _windows(self, timestamp: int) -> list[Window]:
        start = _window_start(timestamp, self.offset, self.size)
        return [TimeWindow(start, start + self.size)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}.of({self.size}, {self.offset})"


class TumblingEventTimeWindows(_Tumbling):
    """Fixed-size, non-overlapping event-time windows ``[k * size + offset, ... + size)``."""

    _owner = "TumblingEventTimeWindows.of"

    @staticmethod
    def of(size_ms: int, offset_ms: int = 0) -> TumblingEventTimeWindows:
        """Windows of ``size_ms``, shifted by ``offset_ms`` (e.g. for a time zone)."""
        return TumblingEventTimeWindows(size_ms, offset_ms)

    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows of ``element``."""
        ts = timestamp if timestamp is not None else _event_timestamp(timestamp, self)
        size = self.size
        start = ts - (ts - self.offset) % size
        return (TimeWindow(start, start + size),)

    def get_default_trigger(self) -> Trigger:
        """The trigger used when none is set."""
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        """Whether the windows are in event time."""
        return True


class TumblingProcessingTimeWindows(_Tumbling):
    """Fixed-size, non-overlapping windows of wall-clock time at arrival."""

    _owner = "TumblingProcessingTimeWindows.of"

    @staticmethod
    def of(size_ms: int, offset_ms: int = 0) -> TumblingProcessingTimeWindows:
        """Windows of ``size_ms`` of processing time, shifted by ``offset_ms``."""
        return TumblingProcessingTimeWindows(size_ms, offset_ms)

    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows of ``element``."""
        return self._windows(context.get_current_processing_time())

    def get_default_trigger(self) -> Trigger:
        """The trigger used when none is set."""
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        """Whether the windows are in event time."""
        return False


class _Sliding(WindowAssigner):
    _owner = ""

    def __init__(self, size: int, slide: int, offset: int = 0) -> None:
        self.size = _positive(size, "size", self._owner)
        self.slide = _positive(slide, "slide", self._owner)
        self.offset = _offset(offset, self.slide, "slide", self._owner)

    def _windows(self, timestamp: int) -> list[Window]:
        size, slide = self.size, self.slide
        last_start = _window_start(timestamp, self.offset, slide)
        # every window [start, start + size) with start > timestamp - size, latest first (Flink)
        return [TimeWindow(s, s + size) for s in range(last_start, timestamp - size, -slide)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}.of({self.size}, {self.slide}, {self.offset})"


class SlidingEventTimeWindows(_Sliding):
    """Event-time windows of ``size`` starting every ``slide`` (an element is in several)."""

    _owner = "SlidingEventTimeWindows.of"

    @staticmethod
    def of(size_ms: int, slide_ms: int, offset_ms: int = 0) -> SlidingEventTimeWindows:
        """Windows of ``size_ms`` every ``slide_ms``, shifted by ``offset_ms``."""
        return SlidingEventTimeWindows(size_ms, slide_ms, offset_ms)

    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows of ``element``."""
        return self._windows(_event_timestamp(timestamp, self))

    def get_default_trigger(self) -> Trigger:
        """The trigger used when none is set."""
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        """Whether the windows are in event time."""
        return True


class SlidingProcessingTimeWindows(_Sliding):
    """Processing-time windows of ``size`` starting every ``slide``."""

    _owner = "SlidingProcessingTimeWindows.of"

    @staticmethod
    def of(size_ms: int, slide_ms: int, offset_ms: int = 0) -> SlidingProcessingTimeWindows:
        """Windows of ``size_ms`` of processing time every ``slide_ms``."""
        return SlidingProcessingTimeWindows(size_ms, slide_ms, offset_ms)

    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows of ``element``."""
        return self._windows(context.get_current_processing_time())

    def get_default_trigger(self) -> Trigger:
        """The trigger used when none is set."""
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        """Whether the windows are in event time."""
        return False


class _Sessions(MergingWindowAssigner):
    """Session windows: ``[t, t + gap)`` per element, merged when they overlap or touch."""

    def merge_windows(self, windows: Sequence[Window], callback: MergeCallback) -> None:
        for cover, members in merge_time_windows(windows):
            if len(members) > 1:
                callback(cover, members)


class EventTimeSessionWindows(_Sessions):
    """Event-time sessions: a key's session ends after ``gap`` ms without elements."""

    def __init__(self, gap: int) -> None:
        self.gap = _positive(gap, "gap", "EventTimeSessionWindows.with_gap")

    @staticmethod
    def with_gap(gap_ms: int) -> EventTimeSessionWindows:
        """Sessions closed by ``gap_ms`` of event time without elements."""
        return EventTimeSessionWindows(gap_ms)

    @staticmethod
    def with_dynamic_gap(extractor: Callable[[Any], int]) -> DynamicEventTimeSessionWindows:
        """Sessions whose gap after each element is ``extractor(element)`` ms."""
        return DynamicEventTimeSessionWindows(extractor)

    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows of ``element``."""
        ts = _event_timestamp(timestamp, self)
        return (TimeWindow(ts, ts + self.gap),)

    def get_default_trigger(self) -> Trigger:
        """The trigger used when none is set."""
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        """Whether the windows are in event time."""
        return True

    def __repr__(self) -> str:
        return f"EventTimeSessionWindows.with_gap({self.gap})"


def _dynamic_gap(extractor: Callable[[Any], int], element: Any, owner: str) -> int:
    gap = extractor(element)
    if not isinstance(gap, int) or isinstance(gap, bool) or gap <= 0:
        msg = f"{owner}: the gap extractor must return a positive int; got {gap!r} for {element!r}"
        raise RecordError(msg)
    return gap


def _check_extractor(extractor: object, owner: str) -> Callable[[Any], int]:
    if not callable(extractor):
        msg = f"{owner} needs a callable element -> gap in ms; got {extractor!r}"
        raise GraphError(msg)
    return extractor


class DynamicEventTimeSessionWindows(_Sessions):
    """Event-time sessions with a gap computed per element."""

    def __init__(self, extractor: Callable[[Any], int]) -> None:
        self.extractor = _check_extractor(extractor, "EventTimeSessionWindows.with_dynamic_gap")

    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows of ``element``."""
        ts = _event_timestamp(timestamp, self)
        gap = _dynamic_gap(self.extractor, element, "EventTimeSessionWindows.with_dynamic_gap")
        return (TimeWindow(ts, ts + gap),)

    def get_default_trigger(self) -> Trigger:
        """The trigger used when none is set."""
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        """Whether the windows are in event time."""
        return True


class ProcessingTimeSessionWindows(_Sessions):
    """Processing-time sessions: closed after ``gap`` ms of wall-clock time without elements."""

    def __init__(self, gap: int) -> None:
        self.gap = _positive(gap, "gap", "ProcessingTimeSessionWindows.with_gap")

    @staticmethod
    def with_gap(gap_ms: int) -> ProcessingTimeSessionWindows:
        """Sessions closed by ``gap_ms`` of processing time without elements."""
        return ProcessingTimeSessionWindows(gap_ms)

    @staticmethod
    def with_dynamic_gap(extractor: Callable[[Any], int]) -> DynamicProcessingTimeSessionWindows:
        """Sessions whose gap after each element is ``extractor(element)`` ms."""
        return DynamicProcessingTimeSessionWindows(extractor)

    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows of ``element``."""
        now = context.get_current_processing_time()
        return (TimeWindow(now, now + self.gap),)

    def get_default_trigger(self) -> Trigger:
        """The trigger used when none is set."""
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        """Whether the windows are in event time."""
        return False


class DynamicProcessingTimeSessionWindows(_Sessions):
    """Processing-time sessions with a gap computed per element."""

    def __init__(self, extractor: Callable[[Any], int]) -> None:
        self.extractor = _check_extractor(
            extractor, "ProcessingTimeSessionWindows.with_dynamic_gap"
        )

    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows of ``element``."""
        now = context.get_current_processing_time()
        gap = _dynamic_gap(self.extractor, element, "ProcessingTimeSessionWindows.with_dynamic_gap")
        return (TimeWindow(now, now + gap),)

    def get_default_trigger(self) -> Trigger:
        """The trigger used when none is set."""
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        """Whether the windows are in event time."""
        return False


class GlobalWindows(WindowAssigner):
    """One window per key holding all its elements; it fires only as its trigger says.

    The default trigger never fires: give a ``CountTrigger`` or a custom one
    (``count_window`` does).
    """

    _windows = (GlobalWindow.get(),)

    @staticmethod
    def create() -> GlobalWindows:
        """The global-windows assigner."""
        return GlobalWindows()

    def assign_windows(
        self, element: Any, timestamp: int | None, context: WindowAssignerContext
    ) -> Sequence[Window]:
        """The windows of ``element``."""
        return self._windows

    def get_default_trigger(self) -> Trigger:
        """The trigger used when none is set."""
        return NeverTrigger()

    def is_event_time(self) -> bool:
        """Whether the windows are in event time."""
        return False

    def __repr__(self) -> str:
        return "GlobalWindows.create()"
