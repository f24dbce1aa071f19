"""What travels through a job: records and the control elements between them.

Port of Flink's stream elements (``StreamRecord``, ``Watermark``, ``WatermarkStatus``,
``LatencyMarker``) plus the two runtime events that Flink sends outside the element stream
(``CheckpointBarrier``, end of partition), here simply elements of their own type.

Records are mutable on purpose: operators overwrite ``value`` in place (Flink's
``StreamRecord.replace``) so the per-record path allocates nothing. An operator must therefore
not keep a ``StreamRecord`` after ``process_element`` returns; it may keep the *value* only when
object reuse is off (see ``docs/object-reuse.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, Generic, TypeVar

__all__ = [
    "MAX_WATERMARK",
    "MIN_WATERMARK",
    "CheckpointBarrier",
    "ControlElement",
    "EndOfInput",
    "LatencyMarker",
    "StreamRecord",
    "Watermark",
    "WatermarkStatus",
]

T = TypeVar("T")

#: Java's Long.MAX_VALUE: the watermark that closes event time (end of a bounded input).
MAX_WATERMARK: Final = 2**63 - 1
#: Java's Long.MIN_VALUE: "no watermark yet".
MIN_WATERMARK: Final = -(2**63)


class StreamRecord(Generic[T]):
    """One value with an optional event timestamp in epoch milliseconds.

    Port of Flink's ``StreamRecord``. Differences: "no timestamp" is ``None`` rather than a
    flag beside ``Long.MIN_VALUE``.
    """

    __slots__ = ("timestamp", "value")

    def __init__(self, value: T, timestamp: int | None = None) -> None:
        self.value = value
        self.timestamp = timestamp

    def replace(self, value: T) -> StreamRecord[T]:
        """Overwrite the value in place, keep the timestamp, and return ``self``."""
        self.value = value
        return self

    def copy(self, value: T) -> StreamRecord[T]:
        """Return a new record holding ``value`` with this record's timestamp."""
        return StreamRecord(value, self.timestamp)

    def __repr__(self) -> str:
        return f"StreamRecord({self.value!r}, timestamp={self.timestamp!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StreamRecord):
            return NotImplemented
        return bool(self.value == other.value) and self.timestamp == other.timestamp

    __hash__ = None  # type: ignore[assignment]  # mutable


@dataclass(frozen=True, slots=True)
class Watermark:
    """Event time has reached ``timestamp``: no later record will carry a timestamp <= it."""

    timestamp: int

    @property
    def is_max(self) -> bool:
        """Whether this is the end-of-event-time watermark."""
        return self.timestamp == MAX_WATERMARK


class WatermarkStatus(Enum):
    """Whether an input currently produces watermarks (Flink's ``WatermarkStatus``)."""

    ACTIVE = "active"
    IDLE = "idle"


@dataclass(frozen=True, slots=True)
class LatencyMarker:
    """A probe sent from a source to measure how long elements take to reach a sink.

    Attributes:
        marked_time_ms: wall-clock time at the source, epoch milliseconds.
        source_id: the emitting source operator's id.
        subtask: the emitting source subtask.
    """

    marked_time_ms: float
    source_id: int
    subtask: int


@dataclass(frozen=True, slots=True)
class CheckpointBarrier:
    """Separates the records of checkpoint ``checkpoint_id`` from those of the next one."""

    checkpoint_id: int
    timestamp_ms: int


class _EndOfInput:
    """The channel's producer has finished; nothing follows on this channel."""

    __slots__ = ()
    _instance: _EndOfInput | None = None

    def __new__(cls) -> _EndOfInput:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "EndOfInput"


#: The single end-of-input element.
EndOfInput: Final = _EndOfInput()

#: Every element that is not a record. Each is sent on its own, after a flush of the buffers
#: before it, so it is strictly ordered with the records around it.
ControlElement = Watermark | WatermarkStatus | LatencyMarker | CheckpointBarrier | _EndOfInput
