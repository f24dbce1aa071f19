"""Windows: a time interval (``TimeWindow``) or the one window of everything (``GlobalWindow``).

Port of Flink's ``TimeWindow`` and ``GlobalWindow``. Differences: a ``TimeWindow`` is a named
tuple ``(start, end)`` (hashed and compared in C, since the window operator looks windows up
per record), so it also equals the plain tuple ``(start, end)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from streamrt.runtime.elements import MAX_WATERMARK

__all__ = ["GlobalWindow", "TimeWindow", "Window", "merge_time_windows"]


class TimeWindow(NamedTuple):
    """The interval ``[start, end)`` in epoch milliseconds.

    Attributes:
        start: the first millisecond in the window.
        end: the first millisecond after it.
    """

    start: int
    end: int

    def max_timestamp(self) -> int:
        """The largest timestamp in the window, ``end - 1`` (results carry it)."""
        return self.end - 1

    def intersects(self, other: TimeWindow) -> bool:
        """Whether the two windows overlap or touch (session windows merge when they do)."""
        return self.start <= other.end and self.end >= other.start

    def cover(self, other: TimeWindow) -> TimeWindow:
        """The smallest window holding both."""
        return TimeWindow(min(self.start, other.start), max(self.end, other.end))

    def __repr__(self) -> str:
        return f"TimeWindow(start={self.start}, end={self.end})"


class GlobalWindow:
    """The single window of ``GlobalWindows``: every element of a key is in it.

    ``GlobalWindow.get()`` returns the one instance; it survives pickling as that instance.
    """

    __slots__ = ()
    _instance: GlobalWindow | None = None

    def __new__(cls) -> GlobalWindow:
        """The one instance."""
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    @classmethod
    def get(cls) -> GlobalWindow:
        """The global window."""
        return cls()

    def max_timestamp(self) -> int:
        """The end of time: a global window never ends by event time."""
        return MAX_WATERMARK

    def __reduce__(self) -> tuple[Any, ...]:
        return (GlobalWindow, ())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GlobalWindow)

    def __hash__(self) -> int:
        return hash("GlobalWindow")

    def __repr__(self) -> str:
        return "GlobalWindow()"


#: What a window assigner assigns: a ``TimeWindow``, the ``GlobalWindow``, or a custom
#: hashable object with ``max_timestamp()``.
Window = Any


def merge_time_windows(windows: Iterable[TimeWindow]) -> list[tuple[TimeWindow, list[TimeWindow]]]:
    """Group overlapping windows: each result is (the covering window, the windows it covers).

    Port of Flink's ``TimeWindow.mergeWindows``: sort by start, then sweep.
    """
    merged: list[tuple[TimeWindow, list[TimeWindow]]] = []
    for window in sorted(windows):
        if merged and merged[-1][0].intersects(window):
            cover, members = merged[-1]
            members.append(window)
            merged[-1] = (cover.cover(window), members)
        else:
            merged.append((window, [window]))
    return merged
