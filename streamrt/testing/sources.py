"""ListSource: a bounded, splittable source of given values that can fail on purpose.

``GatedSource`` is a ListSource the test moves forward, so where a job stands when a
checkpoint is taken is decided by the test, not by how busy the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final, Generic, TypeVar

from streamrt.runtime.source_reader import (
    SourceBatch,
    SourceReaderBase,
    SourceReaderContext,
    subtask_split,
)

T = TypeVar("T")

__all__ = ["FAIL", "GatedSource", "ListSource"]


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
        end = min(self._next + self._batch, self._readable())
        chunk = self._values[self._next : end]
        for offset, value in enumerate(chunk):
            if value is FAIL:
                msg = f"FAIL injected at index {self._next + offset} of {self._split}"
                raise RuntimeError(msg)
        ts = self._timestamps[self._next : end] if self._timestamps is not None else None
        self._next = end
        return [SourceBatch(chunk, self._split, ts, position=end)]  # type: ignore[arg-type]

    def _readable(self) -> int:
        return len(self._values)


class GatedSource(ListSource[T]):
    """A ``ListSource`` whose subtasks each read their share only up to ``limit`` records.

    The reader waits (without blocking barriers or watermarks) until ``open_to`` moves the
    gate; ``open_to(len(values))`` lets it run to its end.
    """

    def __init__(self, values: Sequence[T], limit: int, batch_size: int = 50) -> None:
        super().__init__(values, batch_size)
        self.limit = limit
        self._moved = asyncio.Event()

    def open_to(self, limit: int) -> None:
        """Let every subtask read up to ``limit`` records of its share."""
        self.limit = limit
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def pass_gate(self, position: int) -> None:
        """Return once a subtask at ``position`` of its share may read on."""
        while position >= self.limit:
            await self._moved.wait()

    def create_reader(self, context: SourceReaderContext) -> _GatedReader[T]:
        """The reader of this subtask's share, held at the gate."""
        return _GatedReader(self, context)


class _GatedReader(_ListReader[T]):
    def __init__(self, source: GatedSource[T], context: SourceReaderContext) -> None:
        super().__init__(source, context)
        self._gate = source

    async def fetch(self) -> list[SourceBatch[T]] | None:
        if self._next < len(self._values):
            await self._gate.pass_gate(self._next)
        return await super().fetch()

    def _readable(self) -> int:
        return min(len(self._values), self._gate.limit)
