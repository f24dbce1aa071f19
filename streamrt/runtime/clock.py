"""The clock a job's restart loop reads and sleeps on, injectable for tests."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Wall-clock milliseconds and a way to wait."""

    def now_ms(self) -> int:
        """Epoch milliseconds."""
        ...

    async def sleep_ms(self, delay_ms: int) -> None:
        """Wait ``delay_ms`` milliseconds."""
        ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        """Epoch milliseconds."""
        return time.time_ns() // 1_000_000

    async def sleep_ms(self, delay_ms: int) -> None:
        """Wait ``delay_ms`` milliseconds on the event loop."""
        await asyncio.sleep(delay_ms / 1000)
