"""A task's mailbox: work that must not run concurrently with record processing.

Port of the idea of Flink's ``TaskMailbox``/``MailboxProcessor``: timers, checkpoint triggers,
periodic watermarks and async results are *mails*, run by the task's own loop between input
batches, so operator state is only ever touched from one place at a time.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["Mail", "Mailbox"]

#: A mail: a callable run by the task between batches; it may return an awaitable to await.
Mail = Callable[[], Awaitable[None] | None]


class Mailbox:
    """FIFO of mails; ``put`` wakes the owning task if it is waiting.

    Args:
        wake: called after every ``put`` so a task waiting for input or output space runs it.
    """

    __slots__ = ("_mails", "_wake", "closed")

    def __init__(self, wake: Callable[[], None]) -> None:
        self._mails: deque[Mail] = deque()
        self._wake = wake
        self.closed = False

    def __len__(self) -> int:
        return len(self._mails)

    def put(self, mail: Mail) -> None:
        """Enqueue a mail; silently ignored once the task has ended (its timers are moot)."""
        if self.closed:
            return
        self._mails.append(mail)
        self._wake()

    async def run_pending(self) -> int:
        """Run every mail queued now (mails they enqueue run too); return how many ran."""
        ran = 0
        mails = self._mails
        while mails:
            result = mails.popleft()()
            if result is not None and inspect.isawaitable(result):
                await result
            ran += 1
        return ran
