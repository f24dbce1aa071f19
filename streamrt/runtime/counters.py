"""Plain-int counters and gauges for the per-record path.

Port of the parts of Flink's ``SimpleCounter`` and ``WatermarkGauge`` the runtime needs. One
event loop runs one job, so no lock is needed: an increment is an attribute update. Prometheus
(``metrics/``) reads these at scrape time; nothing here imports it.
"""

from __future__ import annotations

from typing import Final

from streamrt.runtime.elements import MIN_WATERMARK

__all__ = ["DISCARDING_COUNTER", "Counter", "WatermarkGauge"]


class Counter:
    """A monotonically increasing count, incremented with ``counter.count += n``."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __repr__(self) -> str:
        return f"Counter({self.count})"


#: Where counts go that nobody reads (Flink's dummy ``SimpleCounter``): a shared sink that saves
#: a ``None`` check per record.
DISCARDING_COUNTER: Final = Counter()


class WatermarkGauge:
    """The last watermark that passed a point of the chain (``MIN_WATERMARK`` before any)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = MIN_WATERMARK

    def __repr__(self) -> str:
        return f"WatermarkGauge({self.value})"
