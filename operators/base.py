"""Base classes for operators: lifecycle defaults, keyed state and timers, user functions.

Port of Flink's ``AbstractStreamOperator`` and ``AbstractUdfStreamOperator``. The default
behaviour forwards watermarks, statuses and latency markers unchanged; keyed operators fire
their event-time timers before forwarding a watermark.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Generic, TypeVar

from streamrt.errors import OperatorError, subtask_display
from streamrt.functions import Function, RuntimeContext
from streamrt.runtime.elements import (
    MIN_WATERMARK,
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.failed_records import FAILED_RECORDS, FailedRecord, worth_logging
from streamrt.runtime.metric_groups import OperatorMetrics
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.state import KeyedStateBackend
from streamrt.runtime.timer_service import InternalTimerService

__all__ = ["AbstractStreamOperator", "AbstractUdfStreamOperator"]

logger = logging.getLogger(__name__)

IN = TypeVar("IN")
OUT = TypeVar("OUT")
F = TypeVar("F")


class AbstractStreamOperator(Generic[IN, OUT]):
    """Defaults for every operator (house style C17: a base class only to share defaults).

    Attributes:
        context: set in ``setup``.
        output: where the operator emits; set in ``setup``.
        state_backend: keyed state, present when the operator runs on a keyed stream.
        timer_service: per-key timers, created by ``create_timer_service``.
        current_watermark: the last watermark received.
    """

    context: OperatorContext
    output: Output[OUT]
    metrics: OperatorMetrics
    state_backend: KeyedStateBackend | None = None
    timer_service: InternalTimerService | None = None
    current_watermark: int = MIN_WATERMARK

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Keep the context and output; create keyed state when on a keyed stream."""
        self.context = context
        self.output = output
        self.metrics = context.metrics
        if context.key_selector is not None:
            self.state_backend = KeyedStateBackend()

    def create_timer_service(self) -> InternalTimerService:
        """Per-key timers that call ``on_event_time``/``on_processing_time`` (keyed only)."""
        assert self.state_backend is not None, "timers need a keyed stream"
        self.timer_service = InternalTimerService(
            self.state_backend,
            self.context.processing_time,
            self.on_event_time,
            self.on_processing_time,
        )
        return self.timer_service

    def on_event_time(self, timestamp: int, key: Any) -> None:
        """An event-time timer fired (override with ``create_timer_service``)."""

    def on_processing_time(self, timestamp: int, key: Any) -> None:
        """A processing-time timer fired (override with ``create_timer_service``)."""

    async def open(self) -> None:
        """Nothing to prepare."""

    def process_element(self, record: StreamRecord[IN]) -> None:
        """Handle one record (every concrete operator overrides this)."""
        raise NotImplementedError

    def process_watermark(self, watermark: Watermark) -> None:
        """Fire due event-time timers, then forward the watermark."""
        self.current_watermark = watermark.timestamp
        if self.timer_service is not None:
            self.timer_service.advance_watermark(watermark.timestamp)
        self.output.emit_watermark(watermark)

    def process_watermark_status(self, status: WatermarkStatus) -> None:
        """Forward."""
        self.output.emit_watermark_status(status)

    def process_latency_marker(self, marker: LatencyMarker) -> None:
        """Forward."""
        self.output.emit_latency_marker(marker)

    async def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        """Nothing to flush."""

    def state_dict(self) -> dict[str, Any]:
        """Keyed state and timers, when the operator has them (an independent copy)."""
        return self._keyed_state(copy=True)

    def snapshot_state(self) -> dict[str, Any]:
        """``state_dict()`` without copying the keyed state (it is encoded at once)."""
        return self._keyed_state(copy=False)

    def _keyed_state(self, *, copy: bool) -> dict[str, Any]:
        state: dict[str, Any] = {}
        backend = self.state_backend
        if backend is not None:
            state["keyed"] = backend.state_dict() if copy else backend.snapshot()
        if self.timer_service is not None:
            state["timers"] = self.timer_service.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore keyed state and timers."""
        if "keyed" in state and self.state_backend is not None:
            self.state_backend.load_state_dict(state["keyed"])
        if "timers" in state and self.timer_service is not None:
            self.timer_service.load_state_dict(state["timers"])

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Nothing to commit."""

    async def finish(self) -> None:
        """Nothing left to emit."""

    async def close(self) -> None:
        """Nothing to release."""


class AbstractUdfStreamOperator(AbstractStreamOperator[IN, OUT], Generic[IN, OUT, F]):
    """An operator around a user function.

    Calls the function's ``open``/``close`` when it has them, and applies the operator's error
    policy when it raises (``on_user_error``).
    """

    #: whether the operator needs the record's key set as the current key before it calls a
    #: ``Function`` object (which may use keyed state) on a keyed stream; operators that set
    #: it themselves (process) or keep their own per-key state (reduce, aggregations) say no
    needs_key_context: ClassVar[bool] = False

    def __init__(self, function: F) -> None:
        self.user_function = function

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """As the base; on a keyed stream, set each record's key first when the function needs it.

        Decided here, once: only a ``Function`` object can reach keyed state (through ``open``),
        so plain callables and non-keyed streams keep the bare ``process_element``.
        """
        super().setup(context, output)
        backend = self.state_backend
        if (
            self.needs_key_context
            and backend is not None
            and isinstance(self.user_function, Function)
        ):
            self.set_key_context(backend, context)

    def set_key_context(self, backend: KeyedStateBackend, context: OperatorContext) -> None:
        """Wrap ``process_element`` so that it first makes the record's key the current key.

        Called by ``setup`` only when the operator is keyed and needs it; a two-input operator
        wraps each input's method instead.
        """
        key_of = context.key_selector
        assert key_of is not None, "a keyed state backend comes with a key selector"
        process = self.process_element

        def process_keyed(record: StreamRecord[IN]) -> None:
            backend.current_key = key_of(record.value)
            process(record)

        self.process_element = process_keyed  # type: ignore[method-assign]

    def on_user_error(self, exc: Exception, record: StreamRecord[Any]) -> None:
        """The user function raised on ``record``: fail, or count and skip or divert it.

        An ``OperatorError`` is a failure further down the chain, already named: it passes
        through whatever the policy.

        Raises:
            Exception: ``exc`` itself under the ``"fail"`` policy, or when it is an
                ``OperatorError``.
        """
        context = self.context
        policy = context.error_policy
        if policy == "fail" or isinstance(exc, OperatorError):
            raise exc
        errors = self.metrics.errors
        errors.count += 1
        if worth_logging(errors.count):
            logger.warning(
                "operator %r (subtask %s) %s record #%d: %s: %s",
                context.name,
                subtask_display(context.subtask_index, context.parallelism),
                "skipped" if policy == "skip" else "diverted",
                errors.count,
                type(exc).__name__,
                exc,
            )
        if policy == "side_output":
            failed = FailedRecord(
                record.value,
                context.name,
                context.subtask_index,
                type(exc).__name__,
                str(exc),
                record.timestamp,
            )
            self.output.collect_side(FAILED_RECORDS, StreamRecord(failed, record.timestamp))

    async def open(self) -> None:
        """Open the user function with a runtime context."""
        if isinstance(self.user_function, Function):
            self.user_function.open(RuntimeContext(self.context, self.state_backend))

    async def close(self) -> None:
        """Close the user function."""
        if isinstance(self.user_function, Function):
            self.user_function.close()
