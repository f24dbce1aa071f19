"""Watermark generators, idleness, and combining per-split watermarks.

Port of Flink's ``WatermarkGenerator``, ``BoundedOutOfOrdernessWatermarks``,
``WatermarksWithIdleness`` and ``WatermarkOutputMultiplexer``. Differences: generators also take
whole batches (``on_batch``), so the built-in ones do one C-level ``max()`` per batch instead of
one Python call per record; the combined output is driven by the source task's periodic emit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from streamrt.runtime.elements import MIN_WATERMARK, Watermark

__all__ = [
    "BoundedOutOfOrdernessWatermarks",
    "NoWatermarksGenerator",
    "WatermarkGenerator",
    "WatermarkOutput",
    "WatermarkOutputMultiplexer",
    "WatermarksWithIdleness",
]


class WatermarkOutput(Protocol):
    """Where a generator reports (Flink's ``WatermarkOutput``)."""

    def emit_watermark(self, watermark: Watermark, /) -> None:
        """Event time advanced to ``watermark``."""
        ...

    def mark_idle(self) -> None:
        """No data is expected for now; do not hold event time back."""
        ...

    def mark_active(self) -> None:
        """Data flows again."""
        ...


class WatermarkGenerator:
    """Base class for generators: override ``on_event`` and/or ``on_periodic_emit``."""

    def on_event(self, event: Any, timestamp: int, output: WatermarkOutput) -> None:
        """Called for each record with its assigned timestamp (may emit: punctuated)."""

    def on_batch(
        self, events: Sequence[Any], timestamps: Sequence[int], output: WatermarkOutput
    ) -> None:
        """Called once per batch; the default calls ``on_event`` per record."""
        on_event = self.on_event
        for event, ts in zip(events, timestamps, strict=True):
            on_event(event, ts, output)

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        """Called every auto-watermark interval (default 200 ms)."""


class NoWatermarksGenerator(WatermarkGenerator):
    """Emits nothing (bounded inputs still end with the final MAX watermark)."""

    def on_batch(
        self, events: Sequence[Any], timestamps: Sequence[int], output: WatermarkOutput
    ) -> None:
        """Ignore."""


class BoundedOutOfOrdernessWatermarks(WatermarkGenerator):
    """Watermark = highest timestamp seen - ``out_of_orderness_ms`` - 1 (Flink's formula)."""

    def __init__(self, out_of_orderness_ms: int) -> None:
        self.out_of_orderness_ms = out_of_orderness_ms
        self.max_timestamp: int | None = None

    def on_event(self, event: Any, timestamp: int, output: WatermarkOutput) -> None:
        """Track the highest timestamp."""
        if self.max_timestamp is None or timestamp > self.max_timestamp:
            self.max_timestamp = timestamp

    def on_batch(
        self, events: Sequence[Any], timestamps: Sequence[int], output: WatermarkOutput
    ) -> None:
        """Track the highest timestamp of the batch (one ``max`` call)."""
        if timestamps:
            high = max(timestamps)
            if self.max_timestamp is None or high > self.max_timestamp:
                self.max_timestamp = high

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        """Emit the current watermark (once any record was seen)."""
        if self.max_timestamp is not None:
            output.emit_watermark(Watermark(self.max_timestamp - self.out_of_orderness_ms - 1))


class WatermarksWithIdleness(WatermarkGenerator):
    """Marks its output idle after ``idle_timeout_ms`` of processing time without records.

    As Flink's ``IdlenessTimer``: inactivity starts at the first periodic emit that finds no
    new records (not when the generator is made), so a split that had data goes idle after
    one that never had any, and its watermark gets through in between.

    Args:
        clock: milliseconds of a monotonic clock; injectable so tests need not sleep.
    """

    def __init__(
        self,
        inner: WatermarkGenerator,
        idle_timeout_ms: int,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.inner = inner
        self.idle_timeout_ms = idle_timeout_ms
        self._clock = clock or (lambda: time.monotonic() * 1000)
        self._inactive_since: float | None = None
        self._events_since_check = False
        self._idle = False

    def on_event(self, event: Any, timestamp: int, output: WatermarkOutput) -> None:
        """Forward and note activity."""
        self._events_since_check = True
        self.inner.on_event(event, timestamp, output)

    def on_batch(
        self, events: Sequence[Any], timestamps: Sequence[int], output: WatermarkOutput
    ) -> None:
        """Forward and note activity."""
        if events:
            self._events_since_check = True
        self.inner.on_batch(events, timestamps, output)

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        """Emit through the inner generator, or mark idle once quiet for long enough."""
        if self._events_since_check:
            self._events_since_check = False
            self._inactive_since = None
            if self._idle:
                self._idle = False
                output.mark_active()
            self.inner.on_periodic_emit(output)
            return
        if self._idle:
            return
        now = self._clock()
        if self._inactive_since is None:
            self._inactive_since = now
        elif now - self._inactive_since >= self.idle_timeout_ms:
            self._idle = True
            output.mark_idle()
            return
        self.inner.on_periodic_emit(output)


class _SplitOutput:
    """The output one split's generator writes to; remembers its watermark and idleness.

    ``advanced`` tells the source task that a generator emitted from ``on_event``/``on_batch``
    (a punctuated watermark), so the combined watermark is updated at once, not periodically.
    """

    __slots__ = ("advanced", "idle", "watermark")

    def __init__(self) -> None:
        self.watermark = MIN_WATERMARK
        self.idle = False
        self.advanced = False

    def emit_watermark(self, watermark: Watermark) -> None:
        if watermark.timestamp > self.watermark:
            self.watermark = watermark.timestamp
            self.advanced = True
        self.idle = False

    def mark_idle(self) -> None:
        self.idle = True

    def mark_active(self) -> None:
        self.idle = False


class WatermarkOutputMultiplexer:
    """One generator per split (Kafka partition); combined = min over the non-idle splits.

    The combined watermark only rises. When every split is idle, the combined output is idle.

    Args:
        create_generator: makes the generator for a new split.
    """

    def __init__(self, create_generator: Callable[[], WatermarkGenerator]) -> None:
        self._create = create_generator
        self._splits: dict[Any, tuple[WatermarkGenerator, _SplitOutput]] = {}
        self.combined_watermark = MIN_WATERMARK
        self.idle = False

    def split(self, split_id: Any) -> tuple[WatermarkGenerator, _SplitOutput]:
        """The generator and output of ``split_id`` (created on first use)."""
        entry = self._splits.get(split_id)
        if entry is None:
            entry = self._splits[split_id] = (self._create(), _SplitOutput())
        return entry

    def release(self, split_id: Any) -> None:
        """Forget a finished or revoked split; it no longer holds the minimum back."""
        self._splits.pop(split_id, None)

    def split_watermarks(self) -> dict[Any, int]:
        """Each split's last watermark."""
        return {k: out.watermark for k, (_, out) in self._splits.items()}

    def on_periodic_emit(self) -> tuple[Watermark | None, bool]:
        """Let every generator emit, then combine.

        Returns:
            ``(watermark, idle)``: the new combined watermark if it rose (else ``None``), and
            whether every split is idle.
        """
        for generator, output in self._splits.values():
            generator.on_periodic_emit(output)
        return self.combine()

    def combine(self) -> tuple[Watermark | None, bool]:
        """Combine the splits' current watermarks (see ``on_periodic_emit``)."""
        active: list[int] = []
        for _, output in self._splits.values():
            output.advanced = False
            if not output.idle:
                active.append(output.watermark)
        self.idle = bool(self._splits) and not active
        if active:
            low = min(active)
            if low > self.combined_watermark:
                self.combined_watermark = low
                return Watermark(low), self.idle
        return None, self.idle
