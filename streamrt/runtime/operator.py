"""The operator contract: what a chain calls on the operators in it.

Port of Flink's ``Input`` and ``StreamOperator`` interfaces, as Protocols (house style C17).
Per-element methods are synchronous: a chained hop is a plain call. Lifecycle methods are
``async`` because sinks and sources do I/O in them; they run once per task, not per record.

Lifecycle (Flink's order): ``setup`` → ``open`` (tail → head) → elements →
``finish`` (head → tail, at end of input) → ``close`` (tail → head; always runs, also on failure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar, runtime_checkable

from streamrt.errors import OperatorError
from streamrt.runtime.failed_records import ErrorPolicy

if TYPE_CHECKING:
    from streamrt.runtime.elements import LatencyMarker, StreamRecord, Watermark, WatermarkStatus
    from streamrt.runtime.mailbox import Mailbox
    from streamrt.runtime.metric_groups import OperatorMetrics
    from streamrt.runtime.outputs.output import Output
    from streamrt.runtime.processing_time import ProcessingTimeService

__all__ = [
    "AvailabilityProvider",
    "Input",
    "OperatorContext",
    "StreamOperator",
    "TwoInputStreamOperator",
    "operator_failure",
    "raise_operator_failure",
]

IN = TypeVar("IN")
IN1 = TypeVar("IN1")
IN2 = TypeVar("IN2")


class Input(Protocol[IN]):
    """What a chaining output pushes into (Flink's ``Input``)."""

    def process_element(self, record: StreamRecord[IN], /) -> None:
        """Handle one record; must not keep ``record`` after returning."""
        ...

    def process_watermark(self, watermark: Watermark, /) -> None:
        """Advance event time (fire timers first, then forward)."""
        ...

    def process_watermark_status(self, status: WatermarkStatus, /) -> None:
        """Note that the input went idle or active again."""
        ...

    def process_latency_marker(self, marker: LatencyMarker, /) -> None:
        """Pass a latency marker on (or record it, in a sink)."""
        ...


@dataclass(slots=True)
class OperatorContext:
    """Everything an operator learns about where it runs, given in ``setup``.

    Attributes:
        operator_id: the node id in the stream graph (stable for one job definition).
        name: the operator's ``name()``, used in errors and metrics.
        subtask_index / parallelism / max_parallelism: this subtask's place.
        job_name / task_name: for messages and metrics.
        object_reuse: whether chained hops pass records without copying.
        metrics: the operator's counters.
        processing_time: wall-clock time and timers delivered as task mails.
        key_selector: set for operators on a keyed stream; extracts the state key of a value
            (of the first input of a two-input operator).
        key_selector2: the second input's key selector of a keyed two-input operator.
        error_policy: what to do when the user function raises (``failed_records``).
        mailbox: the task's mailbox: work that completes outside the chain (an async request)
            re-enters it as a mail, run by the task between input batches (Flink's
            ``MailboxExecutor``); ``None`` outside a task unless a test harness gives one.
    """

    operator_id: int
    name: str
    subtask_index: int
    parallelism: int
    max_parallelism: int
    job_name: str
    task_name: str
    object_reuse: bool
    metrics: OperatorMetrics
    processing_time: ProcessingTimeService
    key_selector: Callable[[Any], Any] | None = None
    error_policy: ErrorPolicy = "fail"
    key_selector2: Callable[[Any], Any] | None = None
    mailbox: Mailbox | None = None


def operator_failure(context: OperatorContext, exc: Exception, where: str = "") -> OperatorError:
    """``exc`` raised by the operator of ``context``, as the ``OperatorError`` naming it.

    The one place such an error is made (house style C14); ``where`` says when it happened
    (``" in on_timer"``), and ``exc`` becomes the ``__cause__``.
    """
    detail = f"{type(exc).__name__}{where}: {exc}"
    error = OperatorError(context.name, context.subtask_index, context.parallelism, detail)
    error.__cause__ = exc
    return error


def raise_operator_failure(context: OperatorContext, exc: Exception, where: str = "") -> NoReturn:
    """Raise ``exc`` named as a failure of ``context``'s operator, unless already named.

    Every ``except Exception`` around operator code calls this: an ``OperatorError`` from
    further down the chain passes through unchanged (named once, by the operator that failed);
    anything else becomes the ``operator_failure`` of this operator.
    """
    if isinstance(exc, OperatorError):
        raise exc
    raise operator_failure(context, exc, where) from exc


class StreamOperator(Input[IN], Protocol[IN]):
    """An operator in a chain (Flink's ``StreamOperator`` plus ``Input``)."""

    def setup(self, context: OperatorContext, output: Output[Any]) -> None:
        """Receive the context and the Output to emit into; called once, before ``open``."""
        ...

    async def open(self) -> None:
        """Prepare to process (after every operator downstream in the chain is open)."""
        ...

    async def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        """Flush what must precede the barrier of ``checkpoint_id``; may still emit records."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """A plain snapshot of the operator's state (empty when stateless)."""
        ...

    def snapshot_state(self) -> dict[str, Any]:
        """``state_dict()`` for a checkpoint that encodes it at once: it may share live objects.

        The chain encodes it in the same synchronous step, before any record or mail runs.
        """
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from a ``state_dict()`` snapshot before ``open``."""
        ...

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` is complete on every task."""
        ...

    async def finish(self) -> None:
        """End of input: emit and flush what is left (head → tail)."""
        ...

    async def close(self) -> None:
        """Release resources; runs exactly once, also after a failure."""
        ...


class TwoInputStreamOperator(StreamOperator[IN1], Protocol[IN1, IN2]):
    """An operator with two inputs (Flink's ``TwoInputStreamOperator``), heading its chain.

    The task feeding it calls ``process_element1``/``process_element2`` with the records of
    each input, and each input's own combined watermark and status (one valve per input); the
    operator advances its event time to the minimum of the two (Flink's
    ``processWatermark1/2``) and forwards that. The one-input ``process_element`` is never
    called; ``process_watermark`` is what the combined watermark goes through.
    """

    def process_element1(self, record: StreamRecord[IN1], /) -> None:
        """Handle one record of the first input."""
        ...

    def process_element2(self, record: StreamRecord[IN2], /) -> None:
        """Handle one record of the second input."""
        ...

    def process_watermark1(self, watermark: Watermark, /) -> None:
        """The first input's watermark advanced."""
        ...

    def process_watermark2(self, watermark: Watermark, /) -> None:
        """The second input's watermark advanced."""
        ...

    def process_watermark_status1(self, status: WatermarkStatus, /) -> None:
        """The first input went idle or active."""
        ...

    def process_watermark_status2(self, status: WatermarkStatus, /) -> None:
        """The second input went idle or active."""
        ...


@runtime_checkable
class AvailabilityProvider(Protocol):
    """Something a task must wait for before taking more input (a full channel, a sink buffer).

    The task checks ``available`` after every input batch (one attribute read) and awaits
    ``wait_available()`` only when it is false; that wait counts as back-pressured time.
    """

    @property
    def available(self) -> bool:
        """Whether more output can be taken without waiting."""
        ...

    async def wait_available(self) -> None:
        """Return once ``available`` is true again (flushing, if that is what frees space)."""
        ...
