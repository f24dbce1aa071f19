"""How a stream gets timestamps and watermarks.

Port of Flink's ``WatermarkStrategy`` with PyFlink's method names, written the Python way:
durations are milliseconds (an ``int``) or a ``datetime.timedelta``, and the timestamp
assigner is any callable ``fn(value, record_timestamp) -> int`` (milliseconds; PyFlink's
argument order; ``record_timestamp`` is the source's own timestamp, e.g. Kafka's, or ``None``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from streamrt.errors import ConfigError
from streamrt.runtime.watermarks import (
    BoundedOutOfOrdernessWatermarks,
    NoWatermarksGenerator,
    WatermarkGenerator,
    WatermarksWithIdleness,
)

__all__ = ["TimestampAssigner", "WatermarkStrategy"]

#: ``fn(value, record_timestamp) -> event timestamp in ms``.
TimestampAssigner = Callable[[Any, int | None], int]


def _millis(value: int | datetime.timedelta, what: str) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"{what} must be a non-negative int of milliseconds or a timedelta; got {value!r}"
        raise ConfigError(msg)
    return value


@dataclass(frozen=True)
class WatermarkStrategy:
    """A watermark generator factory plus an optional timestamp assigner and idleness.

    Build one with a class method, then refine it; every method returns a new strategy.
    """

    generator_factory: Callable[[], WatermarkGenerator]
    timestamp_assigner: TimestampAssigner | None = None
    idle_timeout_ms: int | None = None
    description: str = "custom"

    @classmethod
    def for_bounded_out_of_orderness(
        cls, max_out_of_orderness: int | datetime.timedelta
    ) -> WatermarkStrategy:
        """Records may arrive up to ``max_out_of_orderness`` late: watermark = max ts - it - 1."""
        delay = _millis(max_out_of_orderness, "max_out_of_orderness")
        return cls(
            lambda: BoundedOutOfOrdernessWatermarks(delay),
            description=f"bounded out-of-orderness {delay} ms",
        )

    @classmethod
    def for_monotonous_timestamps(cls) -> WatermarkStrategy:
        """Timestamps only rise: watermark = max ts - 1."""
        return cls(lambda: BoundedOutOfOrdernessWatermarks(0), description="monotonous")

    @classmethod
    def no_watermarks(cls) -> WatermarkStrategy:
        """No watermarks (a bounded input still ends with the final MAX watermark)."""
        return cls(NoWatermarksGenerator, description="no watermarks")

    @classmethod
    def for_generator(cls, factory: Callable[[], WatermarkGenerator]) -> WatermarkStrategy:
        """A custom generator; ``factory`` is called once per split and subtask."""
        return cls(factory)

    def with_timestamp_assigner(self, assigner: TimestampAssigner) -> WatermarkStrategy:
        """Take event timestamps from ``assigner(value, record_timestamp)``."""
        if not callable(assigner):
            msg = f"the timestamp assigner must be callable; got {assigner!r}"
            raise ConfigError(msg)
        return replace(self, timestamp_assigner=assigner)

    def with_idleness(self, idle_timeout: int | datetime.timedelta) -> WatermarkStrategy:
        """Mark a split idle after ``idle_timeout`` without records, so it cannot stall time."""
        timeout = _millis(idle_timeout, "idle_timeout")
        if timeout == 0:
            msg = "idle_timeout must be > 0 ms"
            raise ConfigError(msg)
        return replace(self, idle_timeout_ms=timeout)

    def create_generator(self) -> WatermarkGenerator:
        """A fresh generator (idleness-wrapped when configured)."""
        generator = self.generator_factory()
        if self.idle_timeout_ms is not None:
            return WatermarksWithIdleness(generator, self.idle_timeout_ms)
        return generator
