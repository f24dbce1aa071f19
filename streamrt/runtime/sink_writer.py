"""The contract between the runtime and a sink connector.

A simplified port of Flink's Sink V2 ``SinkWriter``: ``write`` is synchronous and must not do
I/O (it runs inside the chain, per record); a writer that sends asynchronously buffers in
``write`` and turns ``available`` false when its buffer is full, and the task then awaits
``flush()`` between input batches (counted as back-pressured time). ``flush`` also runs before
every checkpoint barrier (at-least-once) and at end of input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from streamrt.runtime.metric_groups import ConnectorMetricGroup

__all__ = ["Sink", "SinkWriter", "SinkWriterBase", "SinkWriterContext"]

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
