"""Triggers: when a window's contents are emitted (fired) and when they are dropped (purged).

Port of Flink's ``Trigger``, ``TriggerResult`` and its built-in triggers, with PyFlink's method
names. A trigger is called per element, per timer and on merges, always for one key and one
window; it keeps whatever it needs in per-window state (``ctx.get_partitioned_state``), which
the window operator clears with the window.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from typing import Any, Protocol

from streamrt.errors import GraphError
from streamrt.state_descriptors import ReducingStateDescriptor, StateDescriptor

__all__ = [
    "ContinuousEventTimeTrigger",
    "CountTrigger",
    "EventTimeTrigger",
    "NeverTrigger",
    "ProcessingTimeTrigger",
    "PurgingTrigger",
    "Trigger",
    "TriggerContext",
    "TriggerResult",
]


class TriggerResult(enum.Enum):
    """What the window operator does with a window after a trigger call.

    ``FIRE`` emits the window's result and keeps the contents; ``PURGE`` drops the contents
    without emitting; ``FIRE_AND_PURGE`` does both.
    """

    CONTINUE = (False, False)
    FIRE = (True, False)
    PURGE = (False, True)
    FIRE_AND_PURGE = (True, True)

    @property
    def is_fire(self) -> bool:
        """Whether the window's result is emitted."""
        return self.value[0]

    @property
    def is_purge(self) -> bool:
        """Whether the window's contents are dropped."""
        return self.value[1]


class TriggerContext(Protocol):
    """What a trigger may use: time, timers for its window, per-window state."""

    def get_current_watermark(self) -> int:
        """The operator's current event time."""
        ...

    def get_current_processing_time(self) -> int:
        """Wall-clock time, epoch ms."""
        ...

    def register_event_time_timer(self, time: int) -> None:
        """Call ``on_event_time`` for this key and window when the watermark reaches ``time``."""
        ...

    def register_processing_time_timer(self, time: int) -> None:
        """Call ``on_processing_time`` for this key and window at wall-clock ``time``."""
        ...

    def delete_event_time_timer(self, time: int) -> None:
        """Forget an event-time timer of this key and window."""
        ...

    def delete_processing_time_timer(self, time: int) -> None:
        """Forget a processing-time timer of this key and window."""
        ...

    def get_partitioned_state(self, state_descriptor: StateDescriptor) -> Any:
        """The state ``state_descriptor`` names, scoped to this key and window."""
        ...

    def merge_partitioned_state(self, state_descriptor: StateDescriptor) -> None:
        """On a merge: fold the merged windows' reducing state into the new window's."""
        ...


class Trigger(ABC):
    """Decides when a window fires; subclass it for a custom trigger."""

    @abstractmethod
    def on_element(
        self, element: Any, timestamp: int | None, window: Any, ctx: TriggerContext
    ) -> TriggerResult:
        """An element was added to ``window``."""

    @abstractmethod
    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """A processing-time timer of ``window`` fired."""

    @abstractmethod
    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """An event-time timer of ``window`` fired."""

    def can_merge(self) -> bool:
        """Whether the trigger supports merging (session) windows."""
        return False

    def on_merge(self, window: Any, ctx: TriggerContext) -> None:
        """Windows were merged into ``window``: re-register timers, merge state."""
        msg = f"{type(self).__name__} does not support merging windows"
        raise NotImplementedError(msg)

    @abstractmethod
    def clear(self, window: Any, ctx: TriggerContext) -> None:
        """``window`` is gone: delete its timers and state."""


class EventTimeTrigger(Trigger):
    """Fires once the watermark passes the window's end (the event-time assigners' default).

    An element arriving for a window the watermark has already passed (within the allowed
    lateness) fires it again at once: a late firing.
    """

    def on_element(
        self, element: Any, timestamp: int | None, window: Any, ctx: TriggerContext
    ) -> TriggerResult:
        """An element was added to ``window``."""
        if window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE
        ctx.register_event_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """A processing-time timer of ``window`` fired."""
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """An event-time timer of ``window`` fired."""
        return TriggerResult.FIRE if time == window.max_timestamp() else TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        """Whether merging windows are supported."""
        return True

    def on_merge(self, window: Any, ctx: TriggerContext) -> None:
        """Windows were merged into ``window``."""
        # only when the merged window is not already late; it then fires on its next element
        if window.max_timestamp() > ctx.get_current_watermark():
            ctx.register_event_time_timer(window.max_timestamp())

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        """``window`` is gone: remove its timers and state."""
        ctx.delete_event_time_timer(window.max_timestamp())

    @staticmethod
    def create() -> EventTimeTrigger:
        """PyFlink's constructor."""
        return EventTimeTrigger()

    def __repr__(self) -> str:
        return "EventTimeTrigger()"


class ProcessingTimeTrigger(Trigger):
    """Fires once wall-clock time passes the window's end (the processing-time default)."""

    def on_element(
        self, element: Any, timestamp: int | None, window: Any, ctx: TriggerContext
    ) -> TriggerResult:
        """An element was added to ``window``."""
        ctx.register_processing_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """A processing-time timer of ``window`` fired."""
        return TriggerResult.FIRE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """An event-time timer of ``window`` fired."""
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        """Whether merging windows are supported."""
        return True

    def on_merge(self, window: Any, ctx: TriggerContext) -> None:
        """Windows were merged into ``window``."""
        if window.max_timestamp() > ctx.get_current_processing_time():
            ctx.register_processing_time_timer(window.max_timestamp())

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        """``window`` is gone: remove its timers and state."""
        ctx.delete_processing_time_timer(window.max_timestamp())

    @staticmethod
    def create() -> ProcessingTimeTrigger:
        """PyFlink's constructor."""
        return ProcessingTimeTrigger()

    def __repr__(self) -> str:
        return "ProcessingTimeTrigger()"


class NeverTrigger(Trigger):
    """Never fires (the ``GlobalWindows`` default: give them a trigger)."""

    def on_element(
        self, element: Any, timestamp: int | None, window: Any, ctx: TriggerContext
    ) -> TriggerResult:
        """An element was added to ``window``."""
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """A processing-time timer of ``window`` fired."""
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """An event-time timer of ``window`` fired."""
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        """Whether merging windows are supported."""
        return True

    def on_merge(self, window: Any, ctx: TriggerContext) -> None:
        """Windows were merged into ``window``."""
        return None

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        """``window`` is gone: remove its timers and state."""
        return None


def _add(a: int, b: int) -> int:
    return a + b


def _check_positive(value: object, what: str, owner: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        msg = f"{owner}: {what} must be a positive int; got {value!r}"
        raise GraphError(msg)
    return value


class CountTrigger(Trigger):
    """Fires every ``count`` elements of a window (and resets its count)."""

    def __init__(self, count: int) -> None:
        self.count = _check_positive(count, "count", "CountTrigger.of")
        self._state = ReducingStateDescriptor("count-trigger", _add)

    @staticmethod
    def of(count: int) -> CountTrigger:
        """Fire every ``count`` elements."""
        return CountTrigger(count)

    def on_element(
        self, element: Any, timestamp: int | None, window: Any, ctx: TriggerContext
    ) -> TriggerResult:
        """An element was added to ``window``."""
        seen = ctx.get_partitioned_state(self._state)
        seen.add(1)
        if seen.get() >= self.count:
            seen.clear()
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """A processing-time timer of ``window`` fired."""
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """An event-time timer of ``window`` fired."""
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        """Whether merging windows are supported."""
        return True

    def on_merge(self, window: Any, ctx: TriggerContext) -> None:
        """Windows were merged into ``window``."""
        ctx.merge_partitioned_state(self._state)

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        """``window`` is gone: remove its timers and state."""
        ctx.get_partitioned_state(self._state).clear()

    def __repr__(self) -> str:
        return f"CountTrigger.of({self.count})"


class PurgingTrigger(Trigger):
    """Turns every ``FIRE`` of the trigger it wraps into ``FIRE_AND_PURGE``."""

    def __init__(self, nested: Trigger) -> None:
        if not isinstance(nested, Trigger):
            msg = f"PurgingTrigger.of needs a Trigger; got {nested!r}"
            raise GraphError(msg)
        self.nested = nested

    @staticmethod
    def of(nested: Trigger) -> PurgingTrigger:
        """Purge whenever ``nested`` fires."""
        return PurgingTrigger(nested)

    @staticmethod
    def _purging(result: TriggerResult) -> TriggerResult:
        return TriggerResult.FIRE_AND_PURGE if result.is_fire else result

    def on_element(
        self, element: Any, timestamp: int | None, window: Any, ctx: TriggerContext
    ) -> TriggerResult:
        """An element was added to ``window``."""
        return self._purging(self.nested.on_element(element, timestamp, window, ctx))

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """A processing-time timer of ``window`` fired."""
        return self._purging(self.nested.on_processing_time(time, window, ctx))

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """An event-time timer of ``window`` fired."""
        return self._purging(self.nested.on_event_time(time, window, ctx))

    def can_merge(self) -> bool:
        """Whether merging windows are supported."""
        return self.nested.can_merge()

    def on_merge(self, window: Any, ctx: TriggerContext) -> None:
        """Windows were merged into ``window``."""
        self.nested.on_merge(window, ctx)

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        """``window`` is gone: remove its timers and state."""
        self.nested.clear(window, ctx)

    def __repr__(self) -> str:
        return f"PurgingTrigger.of({self.nested!r})"


class ContinuousEventTimeTrigger(Trigger):
    """Fires every ``interval_ms`` of event time within a window, and at its end.

    Early results of a long window: with 1-hour windows and ``of(60_000)`` a window's
    running result is emitted each event-time minute, and the final one at the window's end.
    """

    def __init__(self, interval_ms: int) -> None:
        self.interval = _check_positive(interval_ms, "interval_ms", "ContinuousEventTimeTrigger.of")
        self._state = ReducingStateDescriptor("continuous-fire-time", min)

    @staticmethod
    def of(interval_ms: int) -> ContinuousEventTimeTrigger:
        """Fire every ``interval_ms`` of event time."""
        return ContinuousEventTimeTrigger(interval_ms)

    def on_element(
        self, element: Any, timestamp: int | None, window: Any, ctx: TriggerContext
    ) -> TriggerResult:
        """An element was added to ``window``."""
        if window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE  # a late element: fire at once
        ctx.register_event_time_timer(window.max_timestamp())
        fire_time = ctx.get_partitioned_state(self._state)
        if fire_time.get() is None:
            self._register_next_fire(timestamp or 0, window, ctx)
        return TriggerResult.CONTINUE

    def _register_next_fire(self, time: int, window: Any, ctx: TriggerContext) -> None:
        start = time - time % self.interval
        next_fire = min(start + self.interval, window.max_timestamp())
        ctx.get_partitioned_state(self._state).add(next_fire)
        ctx.register_event_time_timer(next_fire)

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """An event-time timer of ``window`` fired."""
        if time == window.max_timestamp():
            return TriggerResult.FIRE
        fire_time = ctx.get_partitioned_state(self._state)
        if fire_time.get() == time:
            fire_time.clear()
            self._register_next_fire(time, window, ctx)
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        """A processing-time timer of ``window`` fired."""
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        """Whether merging windows are supported."""
        return True

    def on_merge(self, window: Any, ctx: TriggerContext) -> None:
        """Windows were merged into ``window``."""
        ctx.merge_partitioned_state(self._state)
        next_fire = ctx.get_partitioned_state(self._state).get()
        if next_fire is not None:
            ctx.register_event_time_timer(next_fire)
        if window.max_timestamp() > ctx.get_current_watermark():
            ctx.register_event_time_timer(window.max_timestamp())

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        """``window`` is gone: remove its timers and state."""
        fire_time = ctx.get_partitioned_state(self._state)
        next_fire = fire_time.get()
        if next_fire is not None:
            ctx.delete_event_time_timer(next_fire)
        fire_time.clear()
        ctx.delete_event_time_timer(window.max_timestamp())

    def __repr__(self) -> str:
        return f"ContinuousEventTimeTrigger.of({self.interval})"
