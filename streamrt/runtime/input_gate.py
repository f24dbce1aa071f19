"""Merges a task's input channels into one stream of (channel index, message).

Port of the parts of Flink's ``SingleInputGate`` and ``CheckpointedInputGate`` a task needs:
channels with data wait in a ready queue (Flink's ``inputChannelsWithData``) and are served
round robin, one message at a time; a channel can be *blocked* while a checkpoint aligns, so
its later buffers stay queued (and its producer is back-pressured) until the barrier has
arrived on every channel; and the gate knows when every channel has ended.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from streamrt.runtime.channel import LocalChannel

__all__ = ["InputGate"]


class InputGate:
    """The input side of one task.

    Args:
        channels: every channel that delivers into this task, in a fixed order (the valve and
            the barrier aligner refer to channels by their index here).
        wake: called when a channel turns non-empty, to wake the task if it is waiting.
    """

    def __init__(self, channels: Sequence[LocalChannel], wake: Callable[[], None]) -> None:
        self.channels = list(channels)
        self._wake = wake
        n = len(self.channels)
        self._ready: deque[int] = deque()
        self._queued = [False] * n
        self._blocked = [False] * n
        self._finished = [False] * n
        self.num_finished = 0
        for index, channel in enumerate(self.channels):
            channel.connect(index, self._on_data)

    def _on_data(self, index: int) -> None:
        if not self._queued[index] and not self._blocked[index]:
            self._queued[index] = True
            self._ready.append(index)
            self._wake()

    @property
    def finished(self) -> bool:
        """Whether every channel has delivered its end of input."""
        return self.num_finished == len(self.channels)

    def poll(self) -> tuple[int, Any] | None:
        """The next message from some unblocked channel, or ``None`` if none is ready now."""
        ready = self._ready
        if not ready:
            return None
        index = ready.popleft()
        channel = self.channels[index]
        message = channel.pop()
        if len(channel):
            ready.append(index)  # round robin: the channel goes to the back
        else:
            self._queued[index] = False
        return index, message

    def mark_finished(self, index: int) -> None:
        """Channel ``index`` delivered its end of input."""
        if not self._finished[index]:
            self._finished[index] = True
            self.num_finished += 1

    def is_finished(self, index: int) -> bool:
        """Whether channel ``index`` has ended."""
        return self._finished[index]

    def block(self, index: int) -> None:
        """Stop serving channel ``index`` (its checkpoint barrier arrived; others are pending)."""
        self._blocked[index] = True
        if self._queued[index]:
            self._queued[index] = False
            self._ready.remove(index)

    def unblock_all(self) -> None:
        """Serve every channel again (the checkpoint was taken)."""
        for index, blocked in enumerate(self._blocked):
            if blocked:
                self._blocked[index] = False
                if len(self.channels[index]):
                    self._on_data(index)

    def close(self) -> None:
        """The task has stopped reading: close every channel (releases waiting producers)."""
        for channel in self.channels:
            channel.close()
