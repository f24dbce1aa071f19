"""Writes the records of one out-edge of one producer subtask into its channels.

Port of Flink's ``RecordWriter`` (``ChannelSelectorRecordWriter``, ``BroadcastRecordWriter``):
the partitioner picks the channel; the record goes into that channel's open buffer; a buffer is
sent when it holds ``buffer_size`` records, when the task's buffer-timeout flush runs, and
always before a control element, which is then sent to every channel, so every record emitted
before a watermark or barrier is ahead of it in every channel.

A record crossing a channel is always a fresh ``StreamRecord`` (operators upstream rewrite
theirs in place); its value is deep-copied unless object reuse is on, the way Flink's network
serialization copies, or unless nobody else can reach it: an atom, or a dict only the emitting
record holds and holding no container (``copying.UNSHARED_PARAM``). The buffer then holds it,
so a second out-edge taking the same value sees a second holder and copies.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from streamrt.runtime.channel import LocalChannel
from streamrt.runtime.copying import ATOMS, UNSHARED_PARAM, copy_value, is_tracked, refcount
from streamrt.runtime.elements import ControlElement, LatencyMarker, StreamRecord
from streamrt.runtime.partitioners import StreamPartitioner

__all__ = ["DEFAULT_BUFFER_SIZE", "LocalRecordWriter", "RecordWriter", "create_record_writer"]

#: Records per buffer. Flink fills 32 KiB segments; a few hundred Python objects per queue
#: operation amortizes the hand-over to well under 1 % of the per-record cost.
DEFAULT_BUFFER_SIZE = 512


class RecordWriter:
    """What a task and its ``RecordWriterOutput`` need from the writer of one out-edge.

    ``emit``, ``flush_all``, ``broadcast_control`` and ``random_emit`` are synchronous: they
    run inside the chain. I/O, when the edge has any (a Kafka topic), happens in the async
    methods the task awaits between batches: ``wait_available`` when ``available`` is false,
    ``drain`` after a barrier or the end of input.
    """

    def emit(self, value: Any, timestamp: int | None) -> None:
        """Write one record to the channel the partitioner picks."""
        raise NotImplementedError

    def flush_all(self) -> None:
        """Hand over every open buffer."""
        raise NotImplementedError

    @property
    def pending(self) -> int:
        """Records written but not handed over yet."""
        raise NotImplementedError

    def broadcast_control(self, element: ControlElement) -> None:
        """Flush, then write ``element`` to every channel."""
        raise NotImplementedError

    def random_emit(self, marker: LatencyMarker) -> None:
        """Flush, then write a latency marker to one random channel."""
        raise NotImplementedError

    @property
    def available(self) -> bool:
        """Whether more can be written without waiting."""
        raise NotImplementedError

    async def wait_available(self) -> None:
        """Return once ``available`` (sending what is ready, for external channels)."""
        raise NotImplementedError

    async def open(self) -> None:
        """Connect (external channels); local channels need nothing."""

    async def drain(self) -> None:
        """Return once everything written so far is delivered (external channels)."""

    async def close(self) -> None:
        """Disconnect; runs exactly once."""


class LocalRecordWriter(RecordWriter):
    """Writes into ``LocalChannel``s: one open buffer per channel."""

    def __init__(
        self,
        channels: Sequence[LocalChannel],
        *,
        buffer_size: int,
        copy_values: bool,
        description: str,
    ) -> None:
        self.channels = list(channels)
        self._buffers: list[list[StreamRecord[Any]]] = [[] for _ in self.channels]
        self._size = max(1, buffer_size)
        self._copy = copy_values
        self.description = description
        self._random = random.Random()

    def _send(self, index: int) -> None:
        self.channels[index].send(self._buffers[index])
        self._buffers[index] = []

    def flush_all(self) -> None:
        """Send every non-empty open buffer."""
        for index, buffer in enumerate(self._buffers):
            if buffer:
                self._send(index)

    @property
    def pending(self) -> int:
        """Records in open buffers, not yet sent."""
        return sum(len(b) for b in self._buffers)

    def broadcast_control(self, element: ControlElement) -> None:
        """Flush, then send ``element`` to every channel."""
        self.flush_all()
        for channel in self.channels:
            channel.send(element)

    def random_emit(self, marker: LatencyMarker) -> None:
        """Flush, then send a latency marker to one random channel."""
        self.flush_all()
        self._random.choice(self.channels).send(marker)

    @property
    def available(self) -> bool:
        """Whether every channel can take more buffers without waiting."""
        return all(c.writable for c in self.channels)

    async def wait_available(self) -> None:
        """Return once every channel is below capacity."""
        for channel in self.channels:
            if not channel.writable:
                await channel.wait_writable()


class _SingleChannelRecordWriter(LocalRecordWriter):
    """One channel (forward, global with one consumer, ...): no partitioner call per record.

    Each writer's ``emit`` spells out the same copy check: a shared helper would be a call per
    record on the path the check exists to make cheap.
    """

    def emit(self, value: Any, timestamp: int | None) -> None:
        if self._copy:
            t = type(value)
            if t not in ATOMS and not (
                t is dict and refcount(value) == UNSHARED_PARAM and not is_tracked(value)
            ):
                value = copy_value(value)
        buffer = self._buffers[0]
        buffer.append(StreamRecord(value, timestamp))
        if len(buffer) >= self._size:
            self._send(0)


class ChannelSelectorRecordWriter(LocalRecordWriter):
    """One channel per record, chosen by the partitioner."""

    def __init__(
        self,
        channels: Sequence[LocalChannel],
        partitioner: StreamPartitioner,
        *,
        buffer_size: int,
        copy_values: bool,
        description: str,
    ) -> None:
        super().__init__(
            channels, buffer_size=buffer_size, copy_values=copy_values, description=description
        )
        partitioner.setup(len(self.channels))
        self._select = partitioner.select_channel

    def emit(self, value: Any, timestamp: int | None) -> None:
        index = self._select(value)
        if self._copy:
            t = type(value)
            if t not in ATOMS and not (
                t is dict and refcount(value) == UNSHARED_PARAM and not is_tracked(value)
            ):
                value = copy_value(value)
        buffer = self._buffers[index]
        buffer.append(StreamRecord(value, timestamp))
        if len(buffer) >= self._size:
            self._send(index)


class _RoundRobinRecordWriter(LocalRecordWriter):
    """Rebalance and rescale: the next channel per record, counted here, not in a call."""

    def __init__(
        self,
        channels: Sequence[LocalChannel],
        partitioner: StreamPartitioner,
        *,
        buffer_size: int,
        copy_values: bool,
        description: str,
    ) -> None:
        super().__init__(
            channels, buffer_size=buffer_size, copy_values=copy_values, description=description
        )
        partitioner.setup(len(self.channels))
        # the partitioner's own start: random for rebalance, 0 for rescale (select_channel + 1)
        self._last = partitioner.select_channel(None) - 1
        self._count = len(self.channels)

    def emit(self, value: Any, timestamp: int | None) -> None:
        index = self._last + 1
        if index == self._count:
            index = 0
        self._last = index
        if self._copy:
            t = type(value)
            if t not in ATOMS and not (
                t is dict and refcount(value) == UNSHARED_PARAM and not is_tracked(value)
            ):
                value = copy_value(value)
        buffer = self._buffers[index]
        buffer.append(StreamRecord(value, timestamp))
        if len(buffer) >= self._size:
            self._send(index)


class BroadcastRecordWriter(LocalRecordWriter):
    """Every record to every channel, each with its own record (and value copy)."""

    def emit(self, value: Any, timestamp: int | None) -> None:
        size = self._size
        for index, buffer in enumerate(self._buffers):
            buffer.append(StreamRecord(copy_value(value) if self._copy else value, timestamp))
            if len(buffer) >= size:
                self._send(index)


def create_record_writer(
    channels: Sequence[LocalChannel],
    partitioner: StreamPartitioner,
    *,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    copy_values: bool = True,
    description: str = "",
) -> LocalRecordWriter:
    """The writer for an edge: broadcast, single-channel, or partitioner-selected."""
    kwargs: dict[str, Any] = {
        "buffer_size": buffer_size,
        "copy_values": copy_values,
        "description": description,
    }
    if partitioner.broadcast:
        return BroadcastRecordWriter(channels, **kwargs)
    if len(channels) == 1:
        return _SingleChannelRecordWriter(channels, **kwargs)
    if partitioner.round_robin:
        return _RoundRobinRecordWriter(channels, partitioner.copy(), **kwargs)
    return ChannelSelectorRecordWriter(channels, partitioner.copy(), **kwargs)
