"""A source that generates records from their index (Flink's ``DataGeneratorSource``).

``generator(i)`` makes record ``i``; subtask ``s`` of ``p`` makes indices ``s, s+p, ...``.
Bounded when ``count`` is given; rate-limited when ``records_per_second`` is given (the limit
is for the whole source, split evenly over subtasks; the wait happens between batches, never
per record). Its position (how many it has made) is checkpointed and restored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from streamrt.errors import ConfigError
from streamrt.runtime.source_reader import (
    SourceBatch,
    SourceReaderBase,
    SourceReaderContext,
    subtask_split,
)

__all__ = ["DataGeneratorSource"]

T = TypeVar("T")


class DataGeneratorSource(Generic[T]):
    """Generates ``generator(index)`` for index 0, 1, 2, ...

    Args:
        generator: makes the record with a given index.
        count: how many records in all; ``None`` runs forever.
        records_per_second: a rate limit for the whole source, or ``None``.
        batch_size: most records per batch.
    """

    def __init__(
        self,
        generator: Callable[[int], T],
        count: int | None = None,
        *,
        records_per_second: float | None = None,
        batch_size: int = 1024,
    ) -> None:
        if count is not None and count < 0:
            msg = f"count must be >= 0 or None; got {count}"
            raise ConfigError(msg)
        if records_per_second is not None and records_per_second <= 0:
            msg = f"records_per_second must be > 0 or None; got {records_per_second}"
            raise ConfigError(msg)
        self.generator = generator
        self.count = count
        self.records_per_second = records_per_second
        self.batch_size = batch_size

    @property
    def bounded(self) -> bool:
        """Bounded when a count is given."""
        return self.count is not None

    def create_reader(self, context: SourceReaderContext) -> _GeneratorReader[T]:
        """The reader of one subtask's indices."""
        return _GeneratorReader(self, context)


class _GeneratorReader(SourceReaderBase, Generic[T]):
    def __init__(self, source: DataGeneratorSource[T], context: SourceReaderContext) -> None:
        self._fn = source.generator
        self._subtask = context.subtask_index
        self._parallelism = context.parallelism
        self._split, self._made = subtask_split("datagen", context)
        count = source.count
        self._share = (
            None if count is None else len(range(context.subtask_index, count, context.parallelism))
        )
        rate = source.records_per_second
        self._per_subtask_rate = None if rate is None else rate / context.parallelism
        self._batch = source.batch_size
        if self._per_subtask_rate is not None:  # keep latency low: ~10 batches per second
            self._batch = max(1, min(self._batch, int(self._per_subtask_rate / 10) or 1))
        self._started = 0.0
        self._made_at_start = self._made

    async def start(self) -> None:
        self._started = time.monotonic()

    async def fetch(self) -> list[SourceBatch[T]] | None:
        remaining = None if self._share is None else self._share - self._made
        if remaining is not None and remaining <= 0:
            return None
        n = self._batch if remaining is None else min(self._batch, remaining)
        if self._per_subtask_rate is not None:
            due = self._started + (self._made - self._made_at_start + n) / self._per_subtask_rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        first = self._subtask + self._made * self._parallelism
        step = self._parallelism
        fn = self._fn
        values = [fn(first + k * step) for k in range(n)]
        self._made += n
        return [SourceBatch(values, self._split, position=self._made)]
