"""The ``ctx`` of the process-function family and the timer service it hands out.

Shared by ``process``, ``co_process``, ``co_broadcast_process`` (``ProcessContext``) and
``interval_join`` (``SideOutputContext``): what their contexts have in common lives here, what
differs (time domain, broadcast state, join timestamps) in subclasses next to each operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamrt.errors import GraphError
from streamrt.runtime.output_tag import OutputTag

if TYPE_CHECKING:
    from operators.base import AbstractStreamOperator
    from streamrt.functions import TimerService
    from streamrt.runtime.outputs.timestamped import TimestampedCollector
    from streamrt.runtime.timer_service import InternalTimerService

__all__ = ["ProcessContext", "SideOutputContext", "SimpleTimerService"]


class SimpleTimerService:
    """Port of Flink's ``SimpleTimerService``: the user's view of an operator's timers.

    Differences: timers only exist on keyed streams, and on others registering or deleting one
    raises ``GraphError`` naming what the operator ``needs`` and a ``hint`` to get there.
    """

    __slots__ = ("_hint", "_needs", "_operator")

    def __init__(self, operator: AbstractStreamOperator[Any, Any], needs: str, hint: str) -> None:
        self._operator = operator
        self._needs = needs
        self._hint = hint

    def _timers(self) -> InternalTimerService:
        timers = self._operator.timer_service
        if timers is None:
            msg = (
                f"timers need {self._needs}; operator {self._operator.context.name!r} is not "
                f"keyed ({self._hint})"
            )
            raise GraphError(msg)
        return timers

    def current_processing_time(self) -> int:
        """Wall-clock time, epoch ms."""
        return self._operator.context.processing_time.current_processing_time()

    def current_watermark(self) -> int:
        """The operator's event time (of a two-input one, the minimum of its inputs')."""
        return self._operator.current_watermark

    def register_event_time_timer(self, timestamp: int) -> None:
        """Fire for the current key once the watermark reaches ``timestamp``."""
        self._timers().register_event_time_timer(timestamp)

    def register_processing_time_timer(self, timestamp: int) -> None:
        """Fire for the current key once wall-clock time reaches ``timestamp``."""
        self._timers().register_processing_time_timer(timestamp)

    def delete_event_time_timer(self, timestamp: int) -> None:
        """Forget the current key's event-time timer at ``timestamp``."""
        self._timers().delete_event_time_timer(timestamp)

    def delete_processing_time_timer(self, timestamp: int) -> None:
        """Forget the current key's processing-time timer at ``timestamp``."""
        self._timers().delete_processing_time_timer(timestamp)


class SideOutputContext:
    """A context that can emit to side outputs: ``ctx.output(tag, value)``."""

    __slots__ = ("_collector",)

    def __init__(self, collector: TimestampedCollector[Any]) -> None:
        self._collector = collector

    def output(self, tag: OutputTag[Any], value: Any) -> None:
        """Emit ``value`` to the side output ``tag``, with the current record's timestamp."""
        if not isinstance(tag, OutputTag):
            msg = f"ctx.output needs an OutputTag; got {tag!r}"
            raise TypeError(msg)
        self._collector.collect_side(tag, value)


class ProcessContext(SideOutputContext):
    """The ``ctx`` argument: timestamp, timers, side outputs, current key.

    The operator sets ``ts`` before each call into the user's function.
    """

    __slots__ = ("_operator", "_timer_service", "ts")

    def __init__(
        self,
        operator: AbstractStreamOperator[Any, Any],
        collector: TimestampedCollector[Any],
        timer_service: SimpleTimerService,
    ) -> None:
        super().__init__(collector)
        self._operator = operator
        self._timer_service = timer_service
        self.ts: int | None = None

    def timestamp(self) -> int | None:
        """The timestamp of the record (or timer) being processed."""
        return self.ts

    def timer_service(self) -> TimerService:
        """Timers and the current time."""
        return self._timer_service

    def get_current_key(self) -> Any:
        """The key of the record (or timer) being processed.

        Raises:
            GraphError: the operator is not keyed.
        """
        backend = self._operator.state_backend
        if backend is None:
            msg = f"operator {self._operator.context.name!r} is not keyed; it has no current key"
            raise GraphError(msg)
        return backend.current_key
