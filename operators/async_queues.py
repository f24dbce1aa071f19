"""The queues of the async wait operator: which results may be emitted, in which order.

Port of Flink's ``StreamElementQueue`` with its ``OrderedStreamElementQueue`` and
``UnorderedStreamElementQueue``. A queue holds *entries* (one per record whose request was
started) and watermarks. Results leave in input order (ordered), or as they complete but never
across a watermark (unordered: a watermark waits for every record before it, and records after
it wait for the watermark). Differences from Flink: watermarks do not count towards the
capacity (only records do), and a watermark that directly follows another replaces it (the
later one says everything the earlier one did), so watermarks cannot fill the queue.

The queues are touched only by the task (records, watermarks and mails); an entry's request
finishing outside the task marks nothing here until the operator calls ``complete``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from streamrt.runtime.elements import Watermark

__all__ = ["AsyncEntry", "AsyncQueue", "OrderedQueue", "UnorderedQueue"]


class AsyncEntry:
    """One record whose request was started: its input and, once done, its outcome.

    Attributes:
        value / timestamp: the input record (the result keeps its timestamp).
        task: the request.
        done: whether the operator has taken the request's outcome into the queue.
    """

    __slots__ = ("done", "segment", "task", "timestamp", "value")

    def __init__(self, value: Any, timestamp: int | None) -> None:
        self.value = value
        self.timestamp = timestamp
        self.task: asyncio.Task[Any] | None = None
        self.done = False
        self.segment: _Segment | None = None


#: Emits one completed entry's result(s).
EmitEntry = Callable[[AsyncEntry], None]
#: Emits one watermark.
EmitWatermark = Callable[[Watermark], None]


class AsyncQueue(Protocol):
    """What the operator needs of either queue."""

    @property
    def records(self) -> int:
        """Records in the queue (started, not yet emitted): what ``capacity`` bounds."""
        ...

    def __bool__(self) -> bool:
        """Whether anything (a record or a watermark) is still queued."""
        ...

    def add_record(self, entry: AsyncEntry) -> None:
        """Queue a started record."""
        ...

    def add_watermark(self, watermark: Watermark) -> None:
        """Queue a watermark behind everything queued so far."""
        ...

    def complete(self, entry: AsyncEntry) -> None:
        """``entry``'s request has finished."""
        ...

    def emit_ready(self, emit_entry: EmitEntry, emit_watermark: EmitWatermark) -> None:
        """Emit (and remove) everything that may leave now, in the order it may leave."""
        ...

    def elements(self) -> Iterator[AsyncEntry | Watermark]:
        """Everything not yet emitted, in input order (for a checkpoint and for ``close``)."""
        ...


class OrderedQueue:
    """Results leave in input order: the head leaves once its request is done."""

    __slots__ = ("_queue", "_records")

    def __init__(self) -> None:
        self._queue: deque[AsyncEntry | Watermark] = deque()
        self._records = 0

    @property
    def records(self) -> int:
        """Records in the queue."""
        return self._records

    def __bool__(self) -> bool:
        return bool(self._queue)

    def add_record(self, entry: AsyncEntry) -> None:
        """Queue at the tail."""
        self._queue.append(entry)
        self._records += 1

    def add_watermark(self, watermark: Watermark) -> None:
        """Queue at the tail, replacing a watermark that is the tail."""
        queue = self._queue
        if queue and type(queue[-1]) is Watermark:
            queue[-1] = watermark
        else:
            queue.append(watermark)

    def complete(self, entry: AsyncEntry) -> None:
        """Mark ``entry`` done; it leaves when it reaches the head."""
        entry.done = True

    def emit_ready(self, emit_entry: EmitEntry, emit_watermark: EmitWatermark) -> None:
        """Emit from the head while the head is done (a watermark is always done)."""
        queue = self._queue
        while queue:
            head = queue[0]
            if type(head) is Watermark:
                queue.popleft()
                emit_watermark(head)
                continue
            assert isinstance(head, AsyncEntry)
            if not head.done:
                return
            queue.popleft()
            self._records -= 1
            emit_entry(head)

    def elements(self) -> Iterator[AsyncEntry | Watermark]:
        """The queue, head first."""
        return iter(self._queue)


class _Segment:
    """Records between two watermarks, and the watermark that closes them (if any yet)."""

    __slots__ = ("done", "entries", "watermark")

    def __init__(self, watermark: Watermark | None = None) -> None:
        #: records not yet emitted, in input order (a dict as an ordered set)
        self.entries: dict[AsyncEntry, None] = {}
        #: those whose request is done, in completion order
        self.done: deque[AsyncEntry] = deque()
        self.watermark = watermark


class UnorderedQueue:
    """Results leave as they complete, but only from the first segment (Flink's unordered mode).

    The queue is a list of segments, each closed by a watermark; the last may be open. Records
    of the first segment leave in completion order; its watermark leaves when they all have.
    """

    __slots__ = ("_records", "_segments")

    def __init__(self) -> None:
        self._segments: deque[_Segment] = deque()
        self._records = 0

    @property
    def records(self) -> int:
        """Records in the queue."""
        return self._records

    def __bool__(self) -> bool:
        return bool(self._segments)

    def add_record(self, entry: AsyncEntry) -> None:
        """Add to the open segment (open one if the last is closed)."""
        segments = self._segments
        if not segments or segments[-1].watermark is not None:
            segments.append(_Segment())
        segment = segments[-1]
        segment.entries[entry] = None
        entry.segment = segment
        self._records += 1

    def add_watermark(self, watermark: Watermark) -> None:
        """Close the open segment with ``watermark``, or replace a trailing lone watermark."""
        segments = self._segments
        if not segments:
            segments.append(_Segment(watermark))
            return
        last = segments[-1]
        if last.watermark is None or not last.entries:
            last.watermark = watermark
        else:
            segments.append(_Segment(watermark))

    def complete(self, entry: AsyncEntry) -> None:
        """Make ``entry`` ready to leave once its segment is the first."""
        entry.done = True
        assert entry.segment is not None
        entry.segment.done.append(entry)

    def emit_ready(self, emit_entry: EmitEntry, emit_watermark: EmitWatermark) -> None:
        """Emit the first segment's done records, then its watermark once it is empty."""
        segments = self._segments
        while segments:
            segment = segments[0]
            done = segment.done
            while done:
                entry = done.popleft()
                del segment.entries[entry]
                self._records -= 1
                emit_entry(entry)
            if segment.entries:
                return
            segments.popleft()
            if segment.watermark is None:
                return  # the open segment, now empty
            emit_watermark(segment.watermark)

    def elements(self) -> Iterator[AsyncEntry | Watermark]:
        """Segment by segment: its records in input order, then its watermark."""
        for segment in self._segments:
            yield from segment.entries
            if segment.watermark is not None:
                yield segment.watermark
