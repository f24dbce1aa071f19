"""Port of Flink's ``CoProcessOperator`` and ``KeyedCoProcessOperator``.

One operator serves both, as ``ProcessOperator`` does for one input: on keyed connected streams
each record's key (from its own input's key selector) becomes the current key, so both inputs
share the keyed state and timers of that key, and ``on_timer`` fires; elsewhere registering a
timer is an error. The methods may be written with a collector (``process_element1(value, ctx,
out)``) or in PyFlink's form (``process_element1(value, ctx)`` yielding results), decided once
per method here (``function_forms.collector_form``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from operators.function_forms import collector_form
from operators.process import ProcessCallable
from operators.process_context import ProcessContext, SimpleTimerService
from operators.two_input import AbstractTwoInputStreamOperator
from streamrt.co_functions import CoProcessFunction
from streamrt.errors import GraphError
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext, raise_operator_failure
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.outputs.timestamped import TimestampedCollector

__all__ = ["CoProcessOperator", "two_input_timer_service"]

OUT = TypeVar("OUT")


def two_input_timer_service(
    operator: AbstractTwoInputStreamOperator[Any, Any],
) -> SimpleTimerService:
    """The user's view of time in a two-input operator; timers exist on keyed inputs only."""
    return SimpleTimerService(
        operator, "keyed inputs", "key both inputs with key_by() before process()"
    )


class CoProcessOperator(AbstractTwoInputStreamOperator[OUT, CoProcessFunction[Any, Any, OUT]]):
    """Calls ``process_element1``/``process_element2`` per record and ``on_timer`` per timer.

    Raises:
        GraphError: ``function`` is not a ``CoProcessFunction``.
    """

    def __init__(self, function: CoProcessFunction[Any, Any, OUT]) -> None:
        if not isinstance(function, CoProcessFunction):
            msg = (
                "ConnectedStreams.process() needs a CoProcessFunction or KeyedCoProcessFunction "
                f"(process_element1/process_element2); got {function!r}"
            )
            raise GraphError(msg)
        super().__init__(function)
        self._process1: ProcessCallable = collector_form(function.process_element1, 2)
        self._process2: ProcessCallable = collector_form(function.process_element2, 2)
        self._on_timer: ProcessCallable = collector_form(function.on_timer, 2)

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Build the collector and context; keyed inputs get a timer service."""
        super().setup(context, output)
        self._collector: TimestampedCollector[OUT] = TimestampedCollector(output)
        self._ctx = ProcessContext(self, self._collector, two_input_timer_service(self))
        self._key1 = context.key_selector
        self._key2 = context.key_selector2
        if (self._key1 is None) != (self._key2 is None):
            msg = f"operator {context.name!r}: either both inputs are keyed or neither is"
            raise GraphError(msg)
        if self._key1 is not None:
            self.create_timer_service()

    def process_element1(self, record: StreamRecord[Any]) -> None:
        """Call ``process_element1`` with the value, a context and a collector."""
        if self._key1 is not None:
            self.state_backend.current_key = self._key1(record.value)  # type: ignore[union-attr]
        self._collector.timestamp = self._ctx.ts = record.timestamp
        try:
            self._process1(record.value, self._ctx, self._collector)
        except Exception as exc:  # downstream OperatorErrors pass through
            self.on_user_error(exc, record)

    def process_element2(self, record: StreamRecord[Any]) -> None:
        """Call ``process_element2`` with the value, a context and a collector."""
        if self._key2 is not None:
            self.state_backend.current_key = self._key2(record.value)  # type: ignore[union-attr]
        self._collector.timestamp = self._ctx.ts = record.timestamp
        try:
            self._process2(record.value, self._ctx, self._collector)
        except Exception as exc:  # downstream OperatorErrors pass through
            self.on_user_error(exc, record)

    def on_event_time(self, timestamp: int, key: Any) -> None:
        """An event-time timer fired: call ``on_timer``; emits carry the timer's timestamp."""
        self._collector.timestamp = self._ctx.ts = timestamp
        self._on_timer(timestamp, self._ctx, self._collector)

    def on_processing_time(self, timestamp: int, key: Any) -> None:
        """A processing-time timer fired: call ``on_timer``; emits carry no event timestamp."""
        self._collector.timestamp = None
        self._ctx.ts = timestamp
        try:  # runs as a task mail, outside any chained call that would name the operator
            self._on_timer(timestamp, self._ctx, self._collector)
        except Exception as exc:
            raise_operator_failure(self.context, exc, " in on_timer")
