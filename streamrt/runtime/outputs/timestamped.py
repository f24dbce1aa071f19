"""The Collector user functions see: stamps values with the current input's timestamp.

Port of Flink's ``TimestampedCollector``. Differences: ``collect`` writes the timestamp as well
as the value into its reused record each time, so an operator further down that rewrites a
record's timestamp (``assign_timestamps_and_watermarks``) cannot leak it into the next emit.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final

from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.outputs.output import Output

__all__ = ["TimestampedCollector"]

T = TypeVar("T")


@final
class TimestampedCollector(Generic[T]):
    """Wraps an operator's Output for a user function; allocates nothing per emit."""

    __slots__ = ("_collect", "_output", "_reuse", "timestamp")

    def __init__(self, output: Output[T]) -> None:
        self._output = output
        self._collect = output.collect
        self._reuse: StreamRecord[Any] = StreamRecord(None)
        #: the timestamp given to emitted values; ``None`` emits without one
        self.timestamp: int | None = None

    def set_timestamp(self, record: StreamRecord[Any]) -> None:
        """Emit following values with ``record``'s timestamp (or without, if it has none)."""
        self.timestamp = record.timestamp

    def set_absolute_timestamp(self, timestamp: int) -> None:
        """Emit following values with ``timestamp`` (timers, windows)."""
        self.timestamp = timestamp

    def erase_timestamp(self) -> None:
        """Emit following values without a timestamp."""
        self.timestamp = None

    def collect(self, value: T) -> None:
        """Emit ``value`` on the main output."""
        reuse = self._reuse
        reuse.value = value
        del value  # so a value the caller does not keep counts as unshared (no copy needed)
        reuse.timestamp = self.timestamp
        self._collect(reuse)

    def collect_side(self, tag: OutputTag[Any], value: Any) -> None:
        """Emit ``value`` on the side output ``tag`` (a fresh record: side paths are cold)."""
        self._output.collect_side(tag, StreamRecord(value, self.timestamp))

    def close(self) -> None:
        """Delegate."""
        self._output.close()
