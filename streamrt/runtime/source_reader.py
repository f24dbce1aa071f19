"""The contract between the runtime and a source connector.

A simplified port of Flink's FLIP-27 ``Source``/``SourceReader``: a ``Source`` is a
description (shared, immutable); each source subtask creates its own ``SourceReader``. The
reader only *fetches*: batches of values per split (a Kafka partition, a slice of a list). The
source task emits them, tracks each split's position after every batch, and snapshots those
positions at checkpoints (Flink keeps offsets in split state, not in the consumer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from streamrt.errors import CheckpointError
from streamrt.runtime.metric_groups import ConnectorMetricGroup

__all__ = [
    "Source",
    "SourceBatch",
    "SourceReader",
    "SourceReaderBase",
    "SourceReaderContext",
    "subtask_split",
]

T = TypeVar("T")


@dataclass(slots=True)
class SourceBatch(Generic[T]):
    """Consecutive records of one split.

    Attributes:
        values: the records' values.
        split: the split they come from (``None`` for sources without splits).
        timestamps: the source's own timestamps (Kafka's record time), or ``None``.
        position: the split's position *after* this batch (e.g. the next Kafka offset to read).
        release: ``"finished"`` when the split has ended (bounded reading reached its end) or
            ``"revoked"`` when the reader no longer owns it (a group rebalance); the split then
            stops holding back the source's watermark, and a revoked split's position is
            dropped from later checkpoints. Usually sent with no values.
        handed_over: the reader keeps no reference to ``values`` (a list it built for this
            batch), so the task may empty it while emitting: then a value nobody else holds
            reaches the chain held by its record alone, and needs no copy (object reuse off).
    """

    values: Sequence[T]
    split: Any = None
    timestamps: Sequence[int | None] | None = None
    position: Any = None
    release: str | None = None
    handed_over: bool = False


@dataclass(frozen=True, slots=True)
class SourceReaderContext:
    """What a reader learns about where it runs (Flink's ``SourceReaderContext``).

    Attributes:
        restored_positions: split positions from the checkpoint restored, or empty.
        metric_group: where the reader registers the metrics it reports.
    """

    subtask_index: int
    parallelism: int
    job_name: str
    operator_name: str
    restored_positions: Mapping[Any, Any] = field(default_factory=dict)
    metric_group: ConnectorMetricGroup = field(default_factory=ConnectorMetricGroup)


class SourceReader(Protocol[T]):
    """Reads the splits of one source subtask."""

    async def start(self) -> None:
        """Connect; raise a clear error if the external system is unreachable."""
        ...

    async def fetch(self) -> Sequence[SourceBatch[T]] | None:
        """Wait for the next batches; ``None`` means this reader's input has ended (bounded)."""
        ...

    def snapshot_state(self, checkpoint_id: int, positions: Mapping[Any, Any]) -> dict[str, Any]:
        """The reader's part of checkpoint ``checkpoint_id``; ``positions`` is what was emitted."""
        ...

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` completed (e.g. commit its offsets to Kafka)."""
        ...

    async def notify_job_finished(self, positions: Mapping[Any, Any]) -> None:
        """The whole job finished cleanly; commit ``positions``, all durable downstream now.

        Called before ``close``, and only after a clean finish.
        """
        ...

    def split_count(self) -> int | None:
        """How many splits the reader owns now (0 makes the source idle); ``None``: untracked."""
        ...

    async def close(self) -> None:
        """Disconnect; runs exactly once, also after a failure."""
        ...


class Source(Protocol[T]):
    """A description of where records come from; creates one reader per subtask."""

    @property
    def bounded(self) -> bool:
        """Whether the input ends by itself (bounded jobs stop when all sources end)."""
        ...

    def create_reader(self, context: SourceReaderContext) -> SourceReader[T]:
        """A reader for one subtask."""
        ...


class SourceReaderBase:
    """Defaults for readers that keep no external state: every hook but ``fetch`` is a no-op."""

    async def start(self) -> None:
        """Nothing to connect."""

    def snapshot_state(self, checkpoint_id: int, positions: Mapping[Any, Any]) -> dict[str, Any]:
        """No state beside the positions the task keeps."""
        return {}

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Nothing to commit."""

    async def notify_job_finished(self, positions: Mapping[Any, Any]) -> None:
        """Nothing to commit."""

    def split_count(self) -> int | None:
        """Splits are not tracked."""
        return None

    async def close(self) -> None:
        """Nothing to release."""


def subtask_split(kind: str, context: SourceReaderContext) -> tuple[str, int]:
    """The split of a source whose subtasks are its splits, and the position it starts at.

    A collection or a generator gives each subtask a share that depends on the parallelism,
    so its positions only mean something at the parallelism they were checkpointed with; the
    split id says which (``"collection-1-of-4"``).

    Raises:
        CheckpointError: the restored positions come from another parallelism.
    """
    split = f"{kind}-{context.subtask_index}-of-{context.parallelism}"
    positions = context.restored_positions
    if split in positions:
        return split, int(positions[split])
    others = sorted(s for s in positions if isinstance(s, str) and s.startswith(f"{kind}-"))
    if others:
        msg = (
            f"source {context.operator_name!r} cannot be restored at parallelism "
            f"{context.parallelism}: its splits are its subtasks' shares, checkpointed as "
            f"{others}; restore it at the parallelism it had"
        )
        raise CheckpointError(msg)
    return split, 0
