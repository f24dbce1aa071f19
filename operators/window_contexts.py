"""The contexts the window operator hands to triggers and to process window functions.

Port of Flink's ``WindowOperator.Context`` (the trigger context) and
``WindowOperator.WindowContext`` (the ``ProcessWindowFunction`` context). Each is one object
per operator whose ``namespace`` (the window) the operator sets before a call, so nothing is
allocated per element or per firing.
"""

from __future__ import annotations

from typing import Any, Protocol

from operators.window_state import NamespacedStateStore
from streamrt.errors import GraphError
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.outputs.timestamped import TimestampedCollector
from streamrt.runtime.state import KeyedStateBackend
from streamrt.runtime.timer_service import InternalTimerService
from streamrt.state_descriptors import StateDescriptor

__all__ = ["ProcessWindowContext", "WindowOperatorView", "WindowTriggerContext"]


class WindowOperatorView(Protocol):
    """What the contexts read of their operator."""

    context: OperatorContext
    current_watermark: int
    timers: InternalTimerService


class WindowTriggerContext:
    """The ``ctx`` of trigger calls: one key (the backend's current key) and one window."""

    __slots__ = ("_operator", "merged_windows", "namespace", "state")

    def __init__(self, operator: WindowOperatorView, backend: KeyedStateBackend) -> None:
        self._operator = operator
        self.namespace: Any = None  # the window
        self.merged_windows: list[Any] = []
        self.state = NamespacedStateStore(backend, "window-trigger/", self)

    def get_current_watermark(self) -> int:
        """The operator's current event time."""
        return self._operator.current_watermark

    def get_current_processing_time(self) -> int:
        """Wall-clock time, epoch ms."""
        return self._operator.context.processing_time.current_processing_time()

    def register_event_time_timer(self, time: int) -> None:
        """A timer of this key and window at event time ``time``."""
        self._operator.timers.register_event_time_timer(time, self.namespace)

    def register_processing_time_timer(self, time: int) -> None:
        """A timer of this key and window at wall-clock ``time``."""
        self._operator.timers.register_processing_time_timer(time, self.namespace)

    def delete_event_time_timer(self, time: int) -> None:
        """Forget an event-time timer of this key and window."""
        self._operator.timers.delete_event_time_timer(time, self.namespace)

    def delete_processing_time_timer(self, time: int) -> None:
        """Forget a processing-time timer of this key and window."""
        self._operator.timers.delete_processing_time_timer(time, self.namespace)

    def get_partitioned_state(self, state_descriptor: StateDescriptor) -> Any:
        """The state ``state_descriptor`` names, of this key and window."""
        return self.state.get_partitioned_state(state_descriptor)

    def merge_partitioned_state(self, state_descriptor: StateDescriptor) -> None:
        """Fold the merged windows' state into this window's (on a merge)."""
        self.state.merge_namespaces(state_descriptor, self.namespace, self.merged_windows)


class ProcessWindowContext:
    """The ``context`` of a process window function: window, time, state, side outputs."""

    __slots__ = ("_collector", "_global", "_operator", "namespace", "per_window")

    def __init__(
        self,
        operator: WindowOperatorView,
        collector: TimestampedCollector[Any],
        backend: KeyedStateBackend,
        *,
        merging: bool,
    ) -> None:
        self._operator = operator
        self._collector = collector
        self.namespace: Any = None  # the window
        #: the per-window state (none for merging windows)
        self.per_window = None if merging else NamespacedStateStore(backend, "window-state/", self)
        self._global = NamespacedStateStore(backend, "window-global/")

    def window(self) -> Any:
        """The window being evaluated."""
        return self.namespace

    def current_processing_time(self) -> int:
        """Wall-clock time, epoch ms."""
        return self._operator.context.processing_time.current_processing_time()

    def current_watermark(self) -> int:
        """The operator's current event time."""
        return self._operator.current_watermark

    def window_state(self) -> NamespacedStateStore:
        """State of this key and window (cleared with the window)."""
        if self.per_window is None:
            msg = (
                f"window_state() is not supported for merging (session) windows in operator "
                f"{self._operator.context.name!r}: a merged window's state could not be merged "
                "(as in Flink); use global_state()"
            )
            raise GraphError(msg)
        return self.per_window

    def global_state(self) -> NamespacedStateStore:
        """State of this key, across windows."""
        return self._global

    def output(self, output_tag: OutputTag[Any], value: Any) -> None:
        """Emit ``value`` to the side output ``output_tag``."""
        if not isinstance(output_tag, OutputTag):
            msg = f"context.output needs an OutputTag; got {output_tag!r}"
            raise TypeError(msg)
        self._collector.collect_side(output_tag, value)
