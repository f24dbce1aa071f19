"""CollectSink: a sink that keeps what reaches it (``execute_and_collect``, tests)."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from streamrt.runtime.sink_writer import SinkWriterBase, SinkWriterContext

T = TypeVar("T")

__all__ = ["CollectSink"]


class CollectSink(Generic[T]):
    """Collects every record that reaches it, from all subtasks, in arrival order.

    Values and timestamps are kept in two lists, not as pairs: a pair holding a dict stays
    tracked by the cyclic garbage collector, and a million of them make every full collection
    walk a million objects.
    """

    def __init__(self) -> None:
        self._values: list[T] = []
        self._timestamps: list[int | None] = []
        self._waiters: list[tuple[int, asyncio.Event]] = []

    @property
    def records(self) -> list[tuple[T, int | None]]:
        """``(value, timestamp)`` pairs, in arrival order."""
        return list(zip(self._values, self._timestamps, strict=True))

    def __len__(self) -> int:
        return len(self._values)

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Return once ``count`` records have arrived; fail after ``timeout`` seconds.

        Raises:
            TimeoutError: fewer records arrived in time.
        """
        if len(self._values) >= count:
            return
        event = asyncio.Event()
        self._waiters.append((count, event))
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            msg = f"CollectSink got {len(self._values)} of {count} records in {timeout} s"
            raise TimeoutError(msg) from None
        finally:
            self._waiters = [w for w in self._waiters if w[1] is not event]

    def _notify(self) -> None:
        have = len(self._values)
        for count, event in self._waiters:
            if have >= count:
                event.set()

    @property
    def values(self) -> list[T]:
        """The values, in arrival order."""
        return list(self._values)

    @property
    def timestamps(self) -> list[int | None]:
        """The timestamps, in arrival order."""
        return list(self._timestamps)

    def create_writer(self, context: SinkWriterContext) -> _CollectWriter[T]:
        """A writer appending to this sink's list."""
        return _CollectWriter(self)


class _CollectWriter(SinkWriterBase, Generic[T]):
    def __init__(self, sink: CollectSink[T]) -> None:
        self._sink = sink
        self._append_value = sink._values.append  # noqa: SLF001  (part of the sink)
        self._append_timestamp = sink._timestamps.append  # noqa: SLF001

    def write(self, value: T, timestamp: int | None) -> None:
        self._append_value(value)
        self._append_timestamp(timestamp)
        if self._sink._waiters:  # noqa: SLF001  (the writer is part of the sink)
            self._sink._notify()  # noqa: SLF001
