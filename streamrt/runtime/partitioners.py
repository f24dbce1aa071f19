"""Channel selectors: which downstream subtask(s) a record goes to.

Port of Flink's ``StreamPartitioner`` family. Each out-edge of each producer subtask gets its
own ``copy()`` (Flink clones partitioners per writer, FLINK-14087), so round-robin state is never
shared. ``pointwise`` partitioners connect a producer only to a subset of consumers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, ClassVar

from streamrt.runtime.config import check_max_parallelism
from streamrt.runtime.key_groups import (
    KEY_CACHE_LIMIT,
    assign_to_key_group,
    operator_index_for_key_group,
)

__all__ = [
    "BroadcastPartitioner",
    "ForwardPartitioner",
    "GlobalPartitioner",
    "KeyGroupStreamPartitioner",
    "RebalancePartitioner",
    "RescalePartitioner",
    "ShufflePartitioner",
    "StreamPartitioner",
]


class StreamPartitioner:
    """Base class: picks the channel of each record among ``num_channels``.

    Attributes:
        name: shown in plans and metrics (Flink's ``toString``).
        pointwise: producer ``i`` talks only to a subset of consumers.
        broadcast: every record goes to every channel.
        round_robin: the channels take turns, one record each, from the one after
            ``select_channel``'s first answer (writers count instead of calling per record).
    """

    name: ClassVar[str] = "?"
    pointwise: ClassVar[bool] = False
    broadcast: ClassVar[bool] = False
    round_robin: ClassVar[bool] = False

    def __init__(self) -> None:
        self.num_channels = 1

    def setup(self, num_channels: int) -> None:
        """Called once per writer with the number of channels it writes to."""
        self.num_channels = num_channels

    def select_channel(self, value: Any) -> int:
        """The channel index for ``value``."""
        raise NotImplementedError

    def copy(self) -> StreamPartitioner:
        """A fresh partitioner with the same configuration and no state."""
        return type(self)()

    def describe(self) -> str:
        """How plans print this partitioner."""
        return self.name

    def __repr__(self) -> str:
        return self.describe()


class ForwardPartitioner(StreamPartitioner):
    """To the one consumer with the same index; the only partitioner that allows chaining."""

    name = "FORWARD"
    pointwise = True

    def select_channel(self, value: Any) -> int:
        """Always 0: a forward writer has exactly one channel."""
        return 0


class RebalancePartitioner(StreamPartitioner):
    """Round robin over all consumers, from a random start (default across unequal parallelism)."""

    name = "REBALANCE"
    round_robin = True

    def setup(self, num_channels: int) -> None:
        """Choose a random start so producers do not all hit consumer 0 first."""
        super().setup(num_channels)
        self._next = random.randrange(num_channels)

    def select_channel(self, value: Any) -> int:
        """The next channel in round-robin order."""
        nxt = self._next + 1
        self._next = nxt = 0 if nxt == self.num_channels else nxt
        return nxt


class RescalePartitioner(StreamPartitioner):
    """Round robin from 0 over the consumers this producer is wired to (pointwise)."""

    name = "RESCALE"
    pointwise = True
    round_robin = True

    def setup(self, num_channels: int) -> None:
        """Start at channel 0."""
        super().setup(num_channels)
        self._next = -1

    def select_channel(self, value: Any) -> int:
        """The next channel in round-robin order."""
        nxt = self._next + 1
        self._next = nxt = 0 if nxt == self.num_channels else nxt
        return nxt


class ShufflePartitioner(StreamPartitioner):
    """A uniformly random consumer per record."""

    name = "SHUFFLE"

    def __init__(self) -> None:
        super().__init__()
        self._random = random.Random()

    def select_channel(self, value: Any) -> int:
        """A random channel."""
        return self._random.randrange(self.num_channels)


class GlobalPartitioner(StreamPartitioner):
    """Everything to consumer 0."""

    name = "GLOBAL"

    def select_channel(self, value: Any) -> int:
        """Always 0."""
        return 0


class BroadcastPartitioner(StreamPartitioner):
    """Every record to every consumer."""

    name = "BROADCAST"
    broadcast = True

    def select_channel(self, value: Any) -> int:
        """Never called: broadcast writers send to all channels."""
        msg = "a broadcast partitioner does not select single channels"
        raise TypeError(msg)


class KeyGroupStreamPartitioner(StreamPartitioner):
    """By key: key -> key group -> the consumer owning that key group's range.

    Args:
        key_selector: extracts the key from a value.
        max_parallelism: number of key groups (the downstream operator's max parallelism).
    """

    name = "HASH"

    def __init__(self, key_selector: Callable[[Any], Any], max_parallelism: int = 128) -> None:
        super().__init__()
        self.key_selector = key_selector
        self.max_parallelism = check_max_parallelism(max_parallelism)
        self._channels: dict[Any, int] = {}

    def with_max_parallelism(self, max_parallelism: int) -> KeyGroupStreamPartitioner:
        """This partitioner for a consumer with ``max_parallelism`` key groups."""
        return KeyGroupStreamPartitioner(self.key_selector, max_parallelism)

    def setup(self, num_channels: int) -> None:
        """Fix the channel count, which the per-key channel cache depends on."""
        super().setup(num_channels)
        self._channels.clear()

    def select_channel(self, value: Any) -> int:
        """The subtask owning the key group of ``key_selector(value)``."""
        key = self.key_selector(value)
        try:
            return self._channels[key]  # keys repeat: one dict lookup instead of hashing
        except (KeyError, TypeError):  # new, or unhashable (key_group says so precisely)
            pass
        group = assign_to_key_group(key, self.max_parallelism)
        channel = operator_index_for_key_group(self.max_parallelism, self.num_channels, group)
        if len(self._channels) >= KEY_CACHE_LIMIT:
            self._channels.clear()
        self._channels[key] = channel
        return channel

    def copy(self) -> KeyGroupStreamPartitioner:
        """Same selector and key groups, own cache."""
        return KeyGroupStreamPartitioner(self.key_selector, self.max_parallelism)
