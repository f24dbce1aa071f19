"""Port of Flink's ``ProcessOperator`` and ``KeyedProcessOperator``.

One operator serves both: on a keyed stream it sets the record's key as the current key (for
state and timers) and fires ``on_timer``; elsewhere, registering a timer is an error, as in Flink.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from operators.base import AbstractUdfStreamOperator
from streamrt.errors import GraphError
from streamrt.functions import ProcessFunction, TimeDomain, TimerService
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext, raise_operator_failure
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.outputs.timestamped import TimestampedCollector
from streamrt.runtime.timer_service import InternalTimerService

__all__ = ["ProcessOperator"]

IN = TypeVar("IN")
OUT = TypeVar("OUT")

#: A plain callable used as a process function: ``fn(value, ctx, out)``.
ProcessCallable = Callable[[Any, Any, Any], None]


class _TimerService:
    """The user's view of time; timers only exist on keyed streams."""

    __slots__ = ("_operator",)

    def __init__(self, operator: ProcessOperator[Any, Any]) -> None:
        self._operator = operator

    def _timers(self) -> InternalTimerService:
        timers = self._operator.timer_service
        if timers is None:
            msg = (
                f"timers need a keyed stream; operator {self._operator.context.name!r} is not "
                "keyed (call key_by() before process())"
            )
            raise GraphError(msg)
        return timers

    def current_processing_time(self) -> int:
        return self._operator.context.processing_time.current_processing_time()

    def current_watermark(self) -> int:
        return self._operator.current_watermark

    def register_event_time_timer(self, timestamp: int) -> None:
        self._timers().register_event_time_timer(timestamp)

    def register_processing_time_timer(self, timestamp: int) -> None:
        self._timers().register_processing_time_timer(timestamp)

    def delete_event_time_timer(self, timestamp: int) -> None:
        self._timers().delete_event_time_timer(timestamp)

    def delete_processing_time_timer(self, timestamp: int) -> None:
        self._timers().delete_processing_time_timer(timestamp)


class _Context:
    """The ``ctx`` argument: timestamp, timers, side outputs, current key."""

    __slots__ = ("_collector", "_operator", "_timer_service", "ts")

    def __init__(
        self, operator: ProcessOperator[Any, Any], collector: TimestampedCollector[Any]
    ) -> None:
        self._operator = operator
        self._collector = collector
        self._timer_service = _TimerService(operator)
        self.ts: int | None = None

    def timestamp(self) -> int | None:
        return self.ts

    def timer_service(self) -> TimerService:
        return self._timer_service

    def output(self, tag: OutputTag[Any], value: Any) -> None:
        if not isinstance(tag, OutputTag):
            msg = f"ctx.output needs an OutputTag; got {tag!r}"
            raise TypeError(msg)
        self._collector.collect_side(tag, value)

    def get_current_key(self) -> Any:
        backend = self._operator.state_backend
        if backend is None:
            msg = f"operator {self._operator.context.name!r} is not keyed; it has no current key"
            raise GraphError(msg)
        return backend.current_key


class _OnTimerContext(_Context):
    """The ``ctx`` of ``on_timer``: a ``_Context`` that also knows its time domain.

    One per domain, built once, so firing a timer sets nothing extra.
    """

    __slots__ = ("_domain",)

    def __init__(
        self,
        operator: ProcessOperator[Any, Any],
        collector: TimestampedCollector[Any],
        domain: TimeDomain,
    ) -> None:
        super().__init__(operator, collector)
        self._domain = domain

    def time_domain(self) -> TimeDomain:
        return self._domain


def collector_form(method: Callable[..., Any]) -> ProcessCallable:
    """``method`` as ``(first, ctx, out)``, whichever of the two forms it is written in.

    Ours (canonical): ``process_element(value, ctx, out)`` emitting with ``out.collect(v)``.
    PyFlink's: ``process_element(value, ctx)`` that yields (or returns an iterable of) values,
    and ``(output_tag, value)`` pairs for side outputs; likewise ``on_timer(timestamp, ctx)``.
    The form is decided here, once, from the signature, so a record pays nothing for the check.
    """
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):  # no signature to read: the canonical form
        return method
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return method

    def emit_results(first: Any, ctx: Any, out: Any) -> None:
        results = method(first, ctx)
        if results is None:
            return
        for item in results:
            if type(item) is tuple and len(item) == 2 and isinstance(item[0], OutputTag):
                out.collect_side(item[0], item[1])
            else:
                out.collect(item)

    return emit_results


class ProcessOperator(AbstractUdfStreamOperator[IN, OUT, Any]):
    """Calls ``process_element(value, ctx, out)`` per record and ``on_timer`` per timer."""

    def __init__(self, function: ProcessFunction[IN, OUT] | ProcessCallable) -> None:
        super().__init__(function)
        if isinstance(function, ProcessFunction):
            self._process: ProcessCallable = collector_form(function.process_element)
            self._on_timer: ProcessCallable | None = collector_form(function.on_timer)
        elif callable(function):
            self._process = collector_form(function)
            self._on_timer = None
        else:
            msg = f"process() needs a ProcessFunction or a callable; got {function!r}"
            raise GraphError(msg)

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Build the collector and context; keyed streams get a timer service."""
        super().setup(context, output)
        self._collector: TimestampedCollector[OUT] = TimestampedCollector(output)
        self._ctx = _Context(self, self._collector)
        self._key_of = context.key_selector
        if self._key_of is not None:
            self.create_timer_service()
            collector = self._collector
            self._event_ctx = _OnTimerContext(self, collector, TimeDomain.EVENT_TIME)
            self._processing_ctx = _OnTimerContext(self, collector, TimeDomain.PROCESSING_TIME)

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
