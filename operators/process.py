"""Port of Flink's ``ProcessOperator`` and ``KeyedProcessOperator``.

One operator serves both: on a keyed stream it sets the record's key as the current key (for
state and timers) and fires ``on_timer``; elsewhere, registering a timer is an error, as in Flink.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from operators.base import AbstractUdfStreamOperator
from operators.function_forms import collector_form
from operators.process_context import ProcessContext, SimpleTimerService
from streamrt.errors import GraphError
from streamrt.functions import ProcessFunction, TimeDomain
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext, raise_operator_failure
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.outputs.timestamped import TimestampedCollector

__all__ = ["ProcessOperator"]

IN = TypeVar("IN")
OUT = TypeVar("OUT")

#: A plain callable used as a process function: ``fn(value, ctx, out)``.
ProcessCallable = Callable[[Any, Any, Any], None]


class _OnTimerContext(ProcessContext):
    """The ``ctx`` of ``on_timer``: a ``ProcessContext`` that also knows its time domain.

    One per domain, built once, so firing a timer sets nothing extra.
    """

    __slots__ = ("_domain",)

    def __init__(
        self,
        operator: ProcessOperator[Any, Any],
        collector: TimestampedCollector[Any],
        timer_service: SimpleTimerService,
        domain: TimeDomain,
    ) -> None:
        super().__init__(operator, collector, timer_service)
        self._domain = domain

    def time_domain(self) -> TimeDomain:
        return self._domain


class ProcessOperator(AbstractUdfStreamOperator[IN, OUT, Any]):
    """Calls ``process_element(value, ctx, out)`` per record and ``on_timer`` per timer."""

    def __init__(self, function: ProcessFunction[IN, OUT] | ProcessCallable) -> None:
        super().__init__(function)
        if isinstance(function, ProcessFunction):
            self._process: ProcessCallable = collector_form(function.process_element, 2)
            self._on_timer: ProcessCallable | None = collector_form(function.on_timer, 2)
        elif callable(function):
            self._process = collector_form(function, 2)
            self._on_timer = None
        else:
            msg = f"process() needs a ProcessFunction or a callable; got {function!r}"
            raise GraphError(msg)

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Build the collector and context; keyed streams get a timer service."""
        super().setup(context, output)
        self._collector: TimestampedCollector[OUT] = TimestampedCollector(output)
        timers = SimpleTimerService(self, "a keyed stream", "call key_by() before process()")
        self._ctx = ProcessContext(self, self._collector, timers)
        self._key_of = context.key_selector
        if self._key_of is not None:
            self.create_timer_service()
            collector = self._collector
            self._event_ctx = _OnTimerContext(self, collector, timers, TimeDomain.EVENT_TIME)
            self._processing_ctx = _OnTimerContext(
                self, collector, timers, TimeDomain.PROCESSING_TIME
            )

    def process_element(self, record: StreamRecord[IN]) -> None:
        """Call the user function with the value, a context and a collector."""
        if self._key_of is not None:
            self.state_backend.current_key = self._key_of(record.value)  # type: ignore[union-attr]
        self._collector.timestamp = self._ctx.ts = record.timestamp
        try:
            self._process(record.value, self._ctx, self._collector)
        except Exception as exc:  # downstream OperatorErrors pass through
            self.on_user_error(exc, record)

    def on_event_time(self, timestamp: int, key: Any) -> None:
        """An event-time timer fired: call ``on_timer`` with the timer's timestamp."""
        if self._on_timer is not None:
            self._collector.timestamp = self._event_ctx.ts = timestamp
            self._on_timer(timestamp, self._event_ctx, self._collector)

    def on_processing_time(self, timestamp: int, key: Any) -> None:
        """A processing-time timer fired: call ``on_timer``; emits carry no event timestamp."""
        if self._on_timer is None:
            return
        self._collector.timestamp = None
        self._processing_ctx.ts = timestamp
        try:  # runs as a task mail, outside any chained call that would name the operator
            self._on_timer(timestamp, self._processing_ctx, self._collector)
        except Exception as exc:
            raise_operator_failure(self.context, exc, " in on_timer")
