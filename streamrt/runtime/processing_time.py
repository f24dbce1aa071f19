"""Processing time: the wall clock as seen by a task, and timers that fire as mails.

Port of Flink's ``ProcessingTimeService``. Timers never fire concurrently with records: the
event loop's timer only *enqueues* the callback into the task's mailbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from streamrt.runtime.mailbox import Mailbox

__all__ = ["Cancellable", "MailboxProcessingTimeService", "ProcessingTimeService"]


class Cancellable(Protocol):
    """A handle to a registered timer."""

    def cancel(self) -> None:
        """Stop the timer from firing; harmless if it already fired."""
        ...


class ProcessingTimeService(Protocol):
    """Processing time for operators (Flink's ``ProcessingTimeService``)."""

    def current_processing_time(self) -> int:
        """Wall-clock time in epoch milliseconds."""
        ...

    def register_timer(self, timestamp_ms: int, callback: Callable[[int], None]) -> Cancellable:
        """Call ``callback(timestamp_ms)`` in the task once wall-clock time reaches it."""
        ...


class MailboxProcessingTimeService:
    """Processing-time timers delivered through a task's mailbox."""

    __slots__ = ("_handles", "_loop", "_mailbox")

    def __init__(self, mailbox: Mailbox, loop: asyncio.AbstractEventLoop) -> None:
        self._mailbox = mailbox
        self._loop = loop
        self._handles: set[asyncio.TimerHandle] = set()

    def current_processing_time(self) -> int:
        """Wall-clock time in epoch milliseconds."""
        return time.time_ns() // 1_000_000

    def register_timer(self, timestamp_ms: int, callback: Callable[[int], None]) -> Cancellable:
        """Schedule ``callback(timestamp_ms)`` as a mail at ``timestamp_ms`` (at once if past)."""
        delay = max(0.0, (timestamp_ms - self.current_processing_time()) / 1000)
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._handles.discard(handle)
            self._mailbox.put(lambda: callback(timestamp_ms))

        handle = self._loop.call_later(delay, fire)
        self._handles.add(handle)
        return handle

    def shutdown(self) -> None:
        """Cancel every pending timer (the task has ended)."""
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
