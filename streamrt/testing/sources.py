"""ListSource: a bounded, splittable source of given values that can fail on purpose."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Generic, TypeVar

from streamrt.runtime.source_reader import (
    SourceBatch,
    SourceReaderBase,
    SourceReaderContext,
    subtask_split,
)

T = TypeVar("T")

__all__ = ["FAIL", "ListSource"]


class _Fail:
    def __repr__(self) -> str:
        return "FAIL"


#: Put into a ``ListSource``'s values: reading it raises ``RuntimeError("FAIL injected")``.
FAIL: Final = _Fail()


class ListSource(Generic[T]):
    """A bounded, splittable source of ``values`` that fails where ``FAIL`` stands.

    Args:
        values: the records; ``FAIL`` entries raise when reached.
        batch_size: records per fetched batch.
        timestamps: optional per-record source timestamps (like Kafka's).
    """

    bounded = True

    def __init__(
        self,
        values: Sequence[T | _Fail],
        batch_size: int = 1024,
        timestamps: Sequence[int] | None = None,
    ) -> None:
        self.values = list(values)
        self.batch_size = batch_size
        self.timestamps = list(timestamps) if timestamps is not None else None

    def create_reader(self, context: SourceReaderContext) -> _ListReader[T]:
        """The reader of this subtask's share (every p-th value)."""
        return _ListReader(self, context)


class _ListReader(SourceReaderBase, Generic[T]):
    def __init__(self, source: ListSource[T], context: SourceReaderContext) -> None:
        idx = range(context.subtask_index, len(source.values), context.parallelism)
        self._values = [source.values[i] for i in idx]
        self._timestamps = [source.timestamps[i] for i in idx] if source.timestamps else None
        self._split, self._next = subtask_split("list", context)
        self._batch = source.batch_size

    async def fetch(self) -> list[SourceBatch[T]] | None:
        if self._next >= len(self._values):
            return None
        end = min(self._next + self._batch, len(self._values))
        chunk = self._values[self._next : end]
        for offset, value in enumerate(chunk):
            if value is FAIL:
                msg = f"FAIL injected at index {self._next + offset} of {self._split}"
                raise RuntimeError(msg)
        ts = self._timestamps[self._next : end] if self._timestamps is not None else None
        self._next = end
        return [SourceBatch(chunk, self._split, ts, position=end)]  # type: ignore[arg-type]
