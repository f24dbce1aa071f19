"""Per-key event-time and processing-time timers.

Port of Flink's ``InternalTimerServiceImpl``: timers are (timestamp, key) pairs, deduplicated,
kept in heaps; ``advance_watermark`` fires every event-time timer at or before the new
watermark, in timestamp order, with the timer's key set as the current key, *before* the
operator forwards the watermark (Flink's ``AbstractStreamOperator.processWatermark``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

from streamrt.runtime.elements import MIN_WATERMARK
from streamrt.runtime.processing_time import Cancellable, ProcessingTimeService
from streamrt.runtime.state import KeyedStateBackend

__all__ = ["InternalTimerService", "TimerCallback"]

#: Called as ``callback(timestamp, key)`` when a timer fires.
TimerCallback = Callable[[int, Any], None]


class InternalTimerService:
    """Timers of one keyed operator subtask.

    Args:
        backend: whose ``current_key`` scopes registration and is set while a timer fires.
        processing_time: schedules the wake-up for the earliest processing-time timer.
        on_event_time / on_processing_time: called when a timer fires.
    """

    def __init__(
        self,
        backend: KeyedStateBackend,
        processing_time: ProcessingTimeService,
        on_event_time: TimerCallback,
        on_processing_time: TimerCallback,
    ) -> None:
        self._backend = backend
        self._pts = processing_time
        self._on_event_time = on_event_time
        self._on_processing_time = on_processing_time
        self._seq = itertools.count()
        self._event: list[tuple[int, int, Any]] = []
        self._event_set: set[tuple[int, Any]] = set()
        self._proc: list[tuple[int, int, Any]] = []
        self._proc_set: set[tuple[int, Any]] = set()
        self._proc_wakeup: tuple[int, Cancellable] | None = None
        self.current_watermark = MIN_WATERMARK

    def current_processing_time(self) -> int:
        """Wall-clock time in epoch milliseconds."""
        return self._pts.current_processing_time()

    def register_event_time_timer(self, timestamp: int) -> None:
        """Fire for the current key once the watermark reaches ``timestamp``."""
        entry = (timestamp, self._backend.current_key)
        if entry not in self._event_set:
            self._event_set.add(entry)
            heapq.heappush(self._event, (timestamp, next(self._seq), entry[1]))

    def delete_event_time_timer(self, timestamp: int) -> None:
        """Forget the current key's event-time timer at ``timestamp``."""
        self._event_set.discard((timestamp, self._backend.current_key))

    def register_processing_time_timer(self, timestamp: int) -> None:
        """Fire for the current key once wall-clock time reaches ``timestamp``."""
        entry = (timestamp, self._backend.current_key)
        if entry in self._proc_set:
            return
        self._proc_set.add(entry)
        heapq.heappush(self._proc, (timestamp, next(self._seq), entry[1]))
        self._schedule_processing_wakeup()

    def delete_processing_time_timer(self, timestamp: int) -> None:
        """Forget the current key's processing-time timer at ``timestamp``."""
        self._proc_set.discard((timestamp, self._backend.current_key))

    def advance_watermark(self, watermark: int) -> None:
        """Fire every event-time timer at or before ``watermark``, earliest first."""
        self.current_watermark = watermark
        heap = self._event
        while heap and heap[0][0] <= watermark:
            ts, _, key = heapq.heappop(heap)
            if (ts, key) in self._event_set:
                self._event_set.discard((ts, key))
                self._backend.current_key = key
                self._on_event_time(ts, key)

    def num_event_time_timers(self) -> int:
        """How many event-time timers are registered."""
        return len(self._event_set)

    def _schedule_processing_wakeup(self) -> None:
        earliest = self._proc[0][0]
        if self._proc_wakeup is not None:
            if self._proc_wakeup[0] <= earliest:
                return
            self._proc_wakeup[1].cancel()
        self._proc_wakeup = (earliest, self._pts.register_timer(earliest, self._fire_processing))

    def _fire_processing(self, now: int) -> None:
        self._proc_wakeup = None
        now = max(now, self._pts.current_processing_time())
        heap = self._proc
        while heap and heap[0][0] <= now:
            ts, _, key = heapq.heappop(heap)
            if (ts, key) in self._proc_set:
                self._proc_set.discard((ts, key))
                self._backend.current_key = key
                self._on_processing_time(ts, key)
        if heap:
            self._schedule_processing_wakeup()

    def state_dict(self) -> dict[str, Any]:
        """Registered timers as plain lists of (timestamp, key)."""
        return {
            "event": sorted(self._event_set, key=lambda e: e[0]),
            "processing": sorted(self._proc_set, key=lambda e: e[0]),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Re-register timers from ``state_dict()`` output."""
        for ts, key in state["event"]:
            self._backend.current_key = key
            self.register_event_time_timer(ts)
        for ts, key in state["processing"]:
            self._backend.current_key = key
            self.register_processing_time_timer(ts)
