"""The contract between the runtime and a sink connector.

A simplified port of Flink's Sink V2 ``SinkWriter``: ``write`` is synchronous and must not do
I/O (it runs inside the chain, per record); a writer that sends asynchronously buffers in
``write`` and turns ``available`` false when its buffer is full, and the task then awaits
``flush()`` between input batches (counted as back-pressured time). ``flush`` also runs before
every checkpoint barrier (at-least-once) and at end of input.

A writer that buffers may also bound how long a record waits (``LingeringSinkWriter``): it
names a ``linger_ms``, and the runtime calls its ``send()`` (deliver without waiting for
acknowledgements) at most that long after the first record of a flush cycle was written, even
when no more input arrives (``streamrt.runtime.linger``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from streamrt.runtime.metric_groups import ConnectorMetricGroup

__all__ = ["LingeringSinkWriter", "Sink", "SinkWriter", "SinkWriterBase", "SinkWriterContext"]

T_contra = TypeVar("T_contra", contravariant=True)


@dataclass(frozen=True, slots=True)
class SinkWriterContext:
    """What a writer learns about where it runs (Flink's ``SinkWriter.InitContext``).

    Attributes:
        metric_group: where the writer registers the metrics it reports.
    """

    subtask_index: int
    parallelism: int
    job_name: str
    operator_name: str
    metric_group: ConnectorMetricGroup = field(default_factory=ConnectorMetricGroup)


class SinkWriter(Protocol[T_contra]):
    """Writes the records of one sink subtask."""

    async def open(self) -> None:
        """Connect; raise a clear error if the external system is unreachable."""
        ...

    def write(self, value: T_contra, timestamp: int | None, /) -> None:
        """Take one record (no I/O here: buffer it)."""
        ...

    @property
    def available(self) -> bool:
        """False when buffered records must be flushed before more are written."""
        ...

    async def flush(self, end_of_input: bool) -> None:
        """Deliver everything written so far; raise if any of it failed."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The writer's part of a checkpoint (empty when stateless)."""
        ...

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` completed (commit transactions here)."""
        ...

    async def close(self) -> None:
        """Disconnect; runs exactly once, also after a failure."""
        ...


@runtime_checkable
class LingeringSinkWriter(Protocol):
    """A buffering writer whose records are sent within ``linger_ms`` of being written.

    Checked once, when the sink operator is set up; writers without these two members are
    flushed only when full, before barriers and at end of input.
    """

    @property
    def linger_ms(self) -> int:
        """Most milliseconds a written record stays unsent (< 0: no bound)."""
        ...

    async def send(self) -> None:
        """Send everything written so far; do not wait for acknowledgements.

        Raises:
            Exception: an earlier send failed (it is reported here or at the next flush).
        """
        ...


class Sink(Protocol[T_contra]):
    """A description of where records go; creates one writer per subtask."""

    def create_writer(self, context: SinkWriterContext) -> SinkWriter[T_contra]:
        """A writer for one subtask."""
        ...


class SinkWriterBase:
    """Defaults for writers that need no I/O: every hook but ``write`` is a no-op."""

    async def open(self) -> None:
        """Nothing to connect."""

    @property
    def available(self) -> bool:
        """Never full."""
        return True

    async def flush(self, end_of_input: bool) -> None:
        """Nothing buffered."""

    def state_dict(self) -> dict[str, Any]:
        """No state."""
        return {}

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Nothing to commit."""

    async def close(self) -> None:
        """Nothing to release."""
