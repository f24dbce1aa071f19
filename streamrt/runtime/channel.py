"""The in-process edge between two subtasks: a bounded queue of buffers.

Architecture §4: one ``LocalChannel`` per (producer subtask, consumer subtask) pair. It carries
*buffers* (lists of records) and single control elements, never single records, so the queue
costs one operation per buffer. Capacity is counted in queued messages. ``send`` never blocks
(a chain cannot ``await``); the producing task checks ``writable`` between input batches and
awaits ``wait_writable()`` then (house style C5, trio's ``send_nowait``). Flink's overdraft
buffers play the same role: one batch may overshoot the capacity a little.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from streamrt.errors import ChannelClosedError

__all__ = ["DEFAULT_CHANNEL_CAPACITY", "LocalChannel"]

#: Buffers a channel holds before its producer waits: Flink's 2 exclusive + 8 floating buffers
#: are per gate; 4 per channel keeps a p=4 -> p=4 exchange near that and memory small.
DEFAULT_CHANNEL_CAPACITY = 4


class LocalChannel:
    """A bounded FIFO of buffers from one producer subtask to one consumer subtask.

    Args:
        capacity: queued messages at which ``writable`` turns false (>= 1).
        description: names the channel in errors and statistics.
    """

    __slots__ = (
        "_notify",
        "_queue",
        "_writer_waiter",
        "buffers_sent",
        "capacity",
        "closed",
        "description",
        "index",
        "peak",
    )

    def __init__(self, capacity: int = DEFAULT_CHANNEL_CAPACITY, description: str = "") -> None:
        self._queue: deque[Any] = deque()
        self.capacity = capacity
        self.description = description
        self.index = 0
        self._notify: Callable[[int], None] = _ignore
        self._writer_waiter: asyncio.Future[None] | None = None
        self.buffers_sent = 0
        self.peak = 0
        self.closed = False

    def connect(self, index: int, notify: Callable[[int], None]) -> None:
        """Attach to a consumer's gate; ``notify(index)`` runs when the queue turns non-empty."""
        self.index = index
        self._notify = notify

    # -- producer side -------------------------------------------------------------------
    def send(self, message: Any) -> None:
        """Enqueue a buffer or a control element; never blocks.

        Raises:
            ChannelClosedError: the consumer has stopped reading.
        """
        if self.closed:
            msg = f"channel {self.description} is closed: its consumer has stopped"
            raise ChannelClosedError(msg)
        queue = self._queue
        queue.append(message)
        self.buffers_sent += 1
        n = len(queue)
        if n > self.peak:
            self.peak = n
        if n == 1:
            self._notify(self.index)

    @property
    def writable(self) -> bool:
        """Whether the queue is below capacity."""
        return len(self._queue) < self.capacity

    async def wait_writable(self) -> None:
        """Return once the queue is below capacity (or the consumer has gone)."""
        while len(self._queue) >= self.capacity and not self.closed:
            waiter = asyncio.get_running_loop().create_future()
            self._writer_waiter = waiter
            try:
                await waiter
            finally:
                self._writer_waiter = None

    # -- consumer side -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._queue)

    def pop(self) -> Any:
        """Take the oldest message; wakes a waiting producer when space opens up."""
        message = self._queue.popleft()
        waiter = self._writer_waiter
        if waiter is not None and len(self._queue) < self.capacity and not waiter.done():
            waiter.set_result(None)
        return message

    def close(self) -> None:
        """The consumer is gone: drop what is queued and release a waiting producer."""
        self.closed = True
        self._queue.clear()
        waiter = self._writer_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _ignore(_: int) -> None:
    return None
