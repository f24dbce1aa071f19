"""finalize_readers closes every reader, also when a client library cancels one close."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from streamrt.errors import ConnectorError
from streamrt.runtime.job_outcome import finalize_readers
from streamrt.runtime.task import StreamTask


class FakeTask:
    """Only what finalize_readers calls."""

    checkpoint_entry = False

    def __init__(self, name: str, closed: list[str], *, cancelled_inside: bool = False) -> None:
        self.name = name
        self.closed = closed
        self.cancelled_inside = cancelled_inside

    async def close_reader(self) -> None:
        if self.cancelled_inside:  # an internal task of the client was cancelled under it
            inner = asyncio.get_running_loop().create_future()
            inner.cancel()
            await inner
        self.closed.append(self.name)

    def __repr__(self) -> str:
        return self.name


def tasks(closed: list[str]) -> Any:
    return cast(
        "list[StreamTask]",
        [FakeTask("a", closed, cancelled_inside=True), FakeTask("b", closed)],
    )


async def test_an_internally_cancelled_close_does_not_stop_the_others_or_the_outcome() -> None:
    closed: list[str] = []
    await finalize_readers(tasks(closed), job_finished=False)  # no CancelledError escapes
    assert closed == ["b"]


async def test_after_a_clean_finish_the_cancelled_close_is_a_connector_error() -> None:
    closed: list[str] = []
    with pytest.raises(ConnectorError, match="closing a reader of a was cancelled"):
        await finalize_readers(tasks(closed), job_finished=True)
    assert closed == ["b"]


async def test_a_cancelled_job_task_still_ends_cancelled() -> None:
    closed: list[str] = []
    started = asyncio.Event()

    class Slow(FakeTask):
        async def close_reader(self) -> None:
            started.set()
            await asyncio.Event().wait()  # until the task running finalize is cancelled

    running = asyncio.create_task(
        finalize_readers(cast("list[StreamTask]", [Slow("s", closed)]), job_finished=False)
    )
    await asyncio.wait_for(started.wait(), 5)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, 5)
