"""Shared fixtures. Kafka and Prometheus fixtures live beside the tests that need them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from streamrt import JobCancelledError, StreamExecutionEnvironment
from streamrt.runtime.job import Job, JobStatus

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


async def cancel_and_expect_cancelled(
    *runs: tuple[Job, asyncio.Task[Any]], timeout: float = 30.0
) -> None:
    """Cancel each job and check that it ended cancelled: not crashed, not finished.

    ``job.run()`` raises ``JobCancelledError`` when ``job.cancel()`` stopped it; any other
    outcome (an ``OperatorError`` from a crash, a result from a job that had already finished)
    fails the test, naming the job and what it ended with.
    """
    for job, _ in runs:
        job.cancel()
    outcomes = await bounded(
        asyncio.gather(*(running for _, running in runs), return_exceptions=True), timeout
    )
    for (job, _), outcome in zip(runs, outcomes, strict=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, JobCancelledError):
            raise AssertionError(
                f"job {job.name!r} ended with {outcome!r} instead of being cancelled"
            ) from outcome
        assert isinstance(outcome, JobCancelledError), (
            f"job {job.name!r} finished instead of being cancelled: {outcome!r}"
        )
        assert str(outcome) == f"job {job.name!r} was cancelled"
        assert job.status is JobStatus.CANCELED, (job.name, job.status, job.failure)
