"""A brute-force model of event-time windows, to check the WindowOperator against.

It keeps, per key, each live window's full set of elements and recomputes a window's result
from all of them at every firing; no timers, no incremental state, no merging set. Output is
cut into segments at each watermark (the operator emits a watermark after the firings it
causes); within a segment the order is not specified, so segments compare as sorted lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamrt.runtime.elements import MAX_WATERMARK, MIN_WATERMARK

#: ("rec", key, value, timestamp) or ("wm", timestamp)
Event = tuple[Any, ...]
#: (key, start, end, values) -> the emitted value
Result = Callable[[Any, int, int, list[int]], Any]


def sliding_windows(timestamp: int, size: int, slide: int, offset: int) -> list[tuple[int, int]]:
    """Every [s, s + size) with s = offset (mod slide) holding ``timestamp``, by search."""
    return [
        (s, s + size)
        for s in range(timestamp - size + 1, timestamp + 1)
        if (s - offset) % slide == 0
    ]


@dataclass
class _Window:
    start: int
    end: int
    values: list[int] = field(default_factory=list)


@dataclass
class Reference:
    """Feed events; read ``segments`` (each a sorted list of (value, timestamp)) and ``late``."""

    result: Result
    lateness: int
    size: int = 0
    slide: int = 0
    offset: int = 0
    gap: int = 0  # > 0: session windows
    watermark: int = MIN_WATERMARK
    windows: dict[Any, list[_Window]] = field(default_factory=dict)
    segments: list[list[tuple[Any, int]]] = field(default_factory=lambda: [[]])
    late: list[Any] = field(default_factory=list)

    def _fire(self, key: Any, window: _Window) -> None:
        value = self.result(key, window.start, window.end, sorted(window.values))
        self.segments[-1].append((value, window.end - 1))

    def _gone(self, window: _Window) -> bool:
        return window.end - 1 + self.lateness <= self.watermark

    def record(self, key: Any, value: int, timestamp: int) -> None:
        live = self.windows.setdefault(key, [])
        if self.gap:
            start, end = timestamp, timestamp + self.gap
            touching = [w for w in live if w.start <= end and w.end >= start]
            for w in touching:  # merge transitively: every window touching the growing cover
                start, end = min(start, w.start), max(end, w.end)
            while more := [
                w for w in live if w not in touching and w.start <= end and w.end >= start
            ]:
                touching += more
                for w in more:
                    start, end = min(start, w.start), max(end, w.end)
            merged = _Window(start, end, [v for w in touching for v in w.values])
            if not touching and self._gone(merged):
                self.late.append((key, value, timestamp))
                return
            for w in touching:
                live.remove(w)
            merged.values.append(value)
            live.append(merged)
            if merged.end - 1 <= self.watermark:
                self._fire(key, merged)
            return
        targets = sliding_windows(timestamp, self.size, self.slide, self.offset)
        kept = [(s, e) for s, e in targets if e - 1 + self.lateness > self.watermark]
        if not kept:
            # as in Flink: late when the element itself is (a gap between windows drops it)
            if timestamp + self.lateness <= self.watermark:
                self.late.append((key, value, timestamp))
            return
        for start, end in kept:
            window = next((w for w in live if (w.start, w.end) == (start, end)), None)
            if window is None:
                window = _Window(start, end)
                live.append(window)
            window.values.append(value)
            if end - 1 <= self.watermark:
                self._fire(key, window)

    def advance(self, watermark: int) -> None:
        previous, self.watermark = self.watermark, max(self.watermark, watermark)
        for key, live in self.windows.items():
            for window in live:
                if previous < window.end - 1 <= self.watermark:
                    self._fire(key, window)
            live[:] = [w for w in live if not self._gone(w)]
        self.segments[-1].sort(key=repr)
        self.segments.append([])

    def run(self, events: Sequence[Event]) -> Reference:
        for event in events:
            if event[0] == "rec":
                self.record(event[1], event[2], event[3])
            else:
                self.advance(event[1])
        self.advance(MAX_WATERMARK)
        return self
