"""Per-key event-time and processing-time timers.

Port of Flink's ``InternalTimerServiceImpl``: timers are (timestamp, key, namespace) triples,
deduplicated, kept in heaps; the namespace is ``None`` unless the operator scopes timers further
(the window operator's namespace is the window). ``advance_watermark`` fires every event-time
timer at or before the new watermark, in timestamp order, with the timer's key set as the
current key, *before* the operator forwards the watermark (Flink's
``AbstractStreamOperator.processWatermark``).
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

#: Called as ``callback(timestamp, key)`` when a timer fires (``callback(timestamp, key,
#: namespace)`` for a service created with ``namespaced=True``).
TimerCallback = Callable[..., None]


class InternalTimerService:
    """Timers of one keyed operator subtask.

    Args:
        backend: whose ``current_key`` scopes registration and is set while a timer fires.
        processing_time: schedules the wake-up for the earliest processing-time timer.
        on_event_time / on_processing_time: called when a timer fires.
        namespaced: call them with the timer's namespace as a third argument.
    """

    def __init__(
        self,
        backend: KeyedStateBackend,
        processing_time: ProcessingTimeService,
        on_event_time: TimerCallback,
        on_processing_time: TimerCallback,
        *,
        namespaced: bool = False,
    ) -> None:
        self._backend = backend
        self._pts = processing_time
        self._on_event_time = on_event_time
        self._on_processing_time = on_processing_time
        self._namespaced = namespaced
        self._seq = itertools.count()
        # heaps of (timestamp, seq, key, namespace); sets of (timestamp, key, namespace)
        self._event: list[tuple[int, int, Any, Any]] = []
        # pending timers in registration order (a dict as an ordered set): a checkpoint lists
        # them in firing order with a stable sort by timestamp, nearly linear because timers
        # are mostly registered in time order (sorting the heap was the costliest part of
        # a checkpoint with many open windows)
        self._event_set: dict[tuple[int, Any, Any], None] = {}
        self._proc: list[tuple[int, int, Any, Any]] = []
        self._proc_set: dict[tuple[int, Any, Any], None] = {}
        self._proc_wakeup: tuple[int, Cancellable] | None = None
        self.current_watermark = MIN_WATERMARK

    def current_processing_time(self) -> int:
        """Wall-clock time in epoch milliseconds."""
        return self._pts.current_processing_time()

    def register_event_time_timer(self, timestamp: int, namespace: Any = None) -> None:
        """Fire for the current key (and ``namespace``) once the watermark reaches ``timestamp``."""
        key = self._backend.current_key
        entry = (timestamp, key, namespace)
        if entry not in self._event_set:
            self._event_set[entry] = None
            heapq.heappush(self._event, (timestamp, next(self._seq), key, namespace))

    def delete_event_time_timer(self, timestamp: int, namespace: Any = None) -> None:
        """Forget the current key's event-time timer at ``timestamp`` (in ``namespace``)."""
        self._event_set.pop((timestamp, self._backend.current_key, namespace), None)

    def register_processing_time_timer(self, timestamp: int, namespace: Any = None) -> None:
        """Fire for the current key (and ``namespace``) at wall-clock ``timestamp``."""
        key = self._backend.current_key
        entry = (timestamp, key, namespace)
        if entry in self._proc_set:
            return
        self._proc_set[entry] = None
        heapq.heappush(self._proc, (timestamp, next(self._seq), key, namespace))
        self._schedule_processing_wakeup()

    def delete_processing_time_timer(self, timestamp: int, namespace: Any = None) -> None:
        """Forget the current key's processing-time timer at ``timestamp`` (in ``namespace``)."""
        self._proc_set.pop((timestamp, self._backend.current_key, namespace), None)

    def advance_watermark(self, watermark: int) -> None:
        """Fire every event-time timer at or before ``watermark``, earliest first."""
        self.current_watermark = watermark
        heap = self._event
        pending = self._event_set
        while heap and heap[0][0] <= watermark:
            ts, _, key, namespace = heapq.heappop(heap)
            entry = (ts, key, namespace)
            if entry in pending:
                del pending[entry]
                self._backend.current_key = key
                if self._namespaced:
                    self._on_event_time(ts, key, namespace)
                else:
                    self._on_event_time(ts, key)

    def num_event_time_timers(self) -> int:
        """How many event-time timers are registered."""
        return len(self._event_set)

    def num_processing_time_timers(self) -> int:
        """How many processing-time timers are registered."""
        return len(self._proc_set)

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
        pending = self._proc_set
        while heap and heap[0][0] <= now:
            ts, _, key, namespace = heapq.heappop(heap)
            entry = (ts, key, namespace)
            if entry in pending:
                del pending[entry]
                self._backend.current_key = key
                if self._namespaced:
                    self._on_processing_time(ts, key, namespace)
                else:
                    self._on_processing_time(ts, key)
        if heap:
            self._schedule_processing_wakeup()

    def state_dict(self) -> dict[str, Any]:
        """Pending timers as plain lists: (timestamp, key), or (timestamp, key, namespace).

        The key is always the second item (state assignment splits timers by it); a timer
        without a namespace keeps the older two-item form.
        """
        return {
            "event": _registered(self._event_set),
            "processing": _registered(self._proc_set),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Re-register timers from ``state_dict()`` output (two- or three-item entries)."""
        for ts, key, *namespace in state["event"]:
            self._backend.current_key = key
            self.register_event_time_timer(ts, namespace[0] if namespace else None)
        for ts, key, *namespace in state["processing"]:
            self._backend.current_key = key
            self.register_processing_time_timer(ts, namespace[0] if namespace else None)


def _timestamp(entry: tuple[Any, ...]) -> int:
    return int(entry[0])


def _registered(pending: dict[tuple[int, Any, Any], None]) -> list[tuple[Any, ...]]:
    """Pending timers in firing order: by timestamp, then registration (a stable sort)."""
    return [(t, k, n) if n is not None else (t, k) for t, k, n in sorted(pending, key=_timestamp)]
