"""A source over a Python iterable or async iterable: the way to feed a job from a generator.

It is not parallel (Flink's ``fromData`` of an iterator is not either).

A synchronous iterable is read in chunks of ``batch_size`` (it must not block: use an async
iterable for anything that waits on I/O). An async iterable is pumped by a helper coroutine
owned by the reader, so the task receives whatever has arrived as one batch instead of one
record per wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Generic, TypeVar

from streamrt.errors import ConfigError
from streamrt.runtime.source_reader import SourceBatch, SourceReaderBase, SourceReaderContext

__all__ = ["IteratorSource"]

T = TypeVar("T")


class IteratorSource(Generic[T]):
    """Reads an iterable or async iterable once; bounded when it ends.

    Args:
        iterable: the records (sync or async).
        bounded: whether the job may treat the end of the iterable as the end of input.
        batch_size: most records per batch.
    """

    parallel = False

    def __init__(
        self,
        iterable: Iterable[T] | AsyncIterable[T],
        *,
        bounded: bool = True,
        batch_size: int = 1024,
    ) -> None:
        if not isinstance(iterable, (Iterable, AsyncIterable)):
            msg = f"IteratorSource needs an iterable or async iterable; got {iterable!r}"
            raise ConfigError(msg)
        self.iterable = iterable
        self.bounded = bounded
        self.batch_size = batch_size
        self._taken = False

    def create_reader(self, context: SourceReaderContext) -> _IteratorReader[T]:
        """The reader of the only subtask."""
        if self._taken:
            msg = "an IteratorSource can be read only once (iterators are consumed)"
            raise ConfigError(msg)
        self._taken = True
        return _IteratorReader(self.iterable, self.batch_size)


class _IteratorReader(SourceReaderBase, Generic[T]):
    def __init__(self, iterable: Iterable[T] | AsyncIterable[T], batch_size: int) -> None:
        self._batch_size = batch_size
        self._sync: Iterator[T] | None = None
        self._async: AsyncIterator[T] | None = None
        if isinstance(iterable, AsyncIterable):
            self._async = aiter(iterable)
        else:
            self._sync = iter(iterable)
        self._arrived: deque[T] = deque()
        self._done = False
        self._error: BaseException | None = None
        self._signal = asyncio.Event()
        self._space = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._async is not None:
            # owned helper: cancelled and awaited in close()
            self._pump = asyncio.get_running_loop().create_task(self._run_pump(self._async))

    async def _run_pump(self, source: AsyncIterator[T]) -> None:
        try:
            limit = 4 * self._batch_size
            async for value in source:
                self._arrived.append(value)
                self._signal.set()
                while len(self._arrived) >= limit:  # bounded: wait for the task to take some
                    self._space.clear()
                    await self._space.wait()
        except Exception as exc:
            self._error = exc
        finally:
            self._done = True
            self._signal.set()

    async def fetch(self) -> list[SourceBatch[T]] | None:
        if self._sync is not None:
            chunk = list(itertools.islice(self._sync, self._batch_size))
            return [SourceBatch(chunk)] if chunk else None
        while not self._arrived and not self._done:
            self._signal.clear()
            await self._signal.wait()
        if self._error is not None and not self._arrived:
            raise self._error
        if not self._arrived:
            return None
        take = min(len(self._arrived), self._batch_size)
        batch = [self._arrived.popleft() for _ in range(take)]
        self._space.set()
        return [SourceBatch(batch)]

    async def close(self) -> None:
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
