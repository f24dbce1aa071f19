"""Shared fixtures. Kafka and Prometheus fixtures live beside the tests that need them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from streamrt import StreamExecutionEnvironment

T = TypeVar("T")


@pytest.fixture
def env_factory() -> Callable[..., StreamExecutionEnvironment]:
    """Make environments with test-friendly defaults (short buffer timeout)."""

    def make(**kwargs: Any) -> StreamExecutionEnvironment:
        kwargs.setdefault("buffer_timeout_ms", 10)
        return StreamExecutionEnvironment(**kwargs)

    return make


async def wait_until(
    condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``condition`` on the event loop until true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)


async def bounded(awaitable: Awaitable[T], timeout: float = 30.0) -> T:
    """Await with a bound, so a hang fails the test instead of the suite."""
    return await asyncio.wait_for(awaitable, timeout)
