"""A bounded source over an in-memory sequence (``env.from_collection``).

Differences from Flink's ``fromCollection``: it is parallel. Subtask ``i`` of ``p`` reads
elements ``i, i+p, i+2p, ...``, so a job over a collection exercises the same parallel paths
as one over Kafka. Its split position (the next index) is checkpointed and restored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from streamrt.runtime.source_reader import (
    SourceBatch,
    SourceReaderBase,
    SourceReaderContext,
    subtask_split,
)

__all__ = ["CollectionSource"]

T = TypeVar("T")


class CollectionSource(Generic[T]):
    """Reads a sequence, split round robin over the source's subtasks.

    Args:
        values: the records, in order.
        batch_size: records per fetched batch.
    """

    bounded = True

    def __init__(self, values: Sequence[T], batch_size: int = 1024) -> None:
        self.values = list(values)
        self.batch_size = batch_size

    def create_reader(self, context: SourceReaderContext) -> _CollectionReader[T]:
        """A reader of this subtask's share."""
        return _CollectionReader(self, context)


class _CollectionReader(SourceReaderBase, Generic[T]):
    def __init__(self, source: CollectionSource[T], context: SourceReaderContext) -> None:
        self._share = source.values[context.subtask_index :: context.parallelism]
        self._split, self._next = subtask_split("collection", context)
        self._batch_size = source.batch_size

    async def fetch(self) -> list[SourceBatch[T]] | None:
        if self._next >= len(self._share):
            return None
        end = min(self._next + self._batch_size, len(self._share))
        batch = SourceBatch(self._share[self._next : end], self._split, position=end)
        self._next = end
        return [batch]
