"""Mailbox: FIFO mails, mails that enqueue mails, awaitable mails, close, wake-ups."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from streamrt.runtime.mailbox import Mailbox
from tests.conftest import bounded


class Wakes:
    """Counts the mailbox's wake-ups."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def recorder(log: list[str], name: str) -> Callable[[], None]:
    def mail() -> None:
        log.append(name)

    return mail


async def test_mails_run_first_in_first_out() -> None:
    log: list[str] = []
    mailbox = Mailbox(Wakes())
    for name in ("a", "b", "c"):
        mailbox.put(recorder(log, name))
    assert len(mailbox) == 3
    assert await bounded(mailbox.run_pending(), 5) == 3
    assert log == ["a", "b", "c"]
    assert len(mailbox) == 0
    assert await bounded(mailbox.run_pending(), 5) == 0


async def test_mails_enqueued_by_mails_run_in_the_same_call_after_those_queued() -> None:
    log: list[str] = []
    mailbox = Mailbox(Wakes())

    def first() -> None:
        log.append("first")
        mailbox.put(recorder(log, "enqueued by first"))

    mailbox.put(first)
    mailbox.put(recorder(log, "second"))
    assert await bounded(mailbox.run_pending(), 5) == 3
    assert log == ["first", "second", "enqueued by first"]
    assert len(mailbox) == 0


async def test_an_awaitable_mail_is_awaited_before_the_next_mail_runs() -> None:
    log: list[str] = []
    mailbox = Mailbox(Wakes())
    started = asyncio.Event()
    released = asyncio.Event()

    async def flush() -> None:
        log.append("flush started")
        started.set()
        await released.wait()
        log.append("flush done")

    def slow() -> Awaitable[None]:
        return flush()

    mailbox.put(slow)
    mailbox.put(recorder(log, "next"))
    running = asyncio.create_task(mailbox.run_pending())
    # the mail runs up to its wait; the second mail must not run meanwhile
    await bounded(started.wait(), 5)
    assert log == ["flush started"]
    assert not running.done()
    released.set()
    assert await bounded(running, 5) == 2
    assert log == ["flush started", "flush done", "next"]


async def test_a_future_returned_by_a_mail_is_awaited() -> None:
    mailbox = Mailbox(Wakes())
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    log: list[str] = []

    def mail() -> Awaitable[None]:
        future.add_done_callback(lambda _: log.append("resolved"))
        asyncio.get_running_loop().call_soon(future.set_result, None)
        return future

    mailbox.put(mail)
    assert await bounded(mailbox.run_pending(), 5) == 1
    assert future.done()
    assert log == ["resolved"]


async def test_a_put_after_close_is_ignored_and_wakes_nobody() -> None:
    log: list[str] = []
    wakes = Wakes()
    mailbox = Mailbox(wakes)
    mailbox.put(recorder(log, "before"))
    mailbox.closed = True  # what the task does when it ends
    mailbox.put(recorder(log, "after"))
    assert len(mailbox) == 1
    assert wakes.count == 1
    assert await bounded(mailbox.run_pending(), 5) == 1
    assert log == ["before"]


async def test_every_put_wakes_the_task_even_when_mails_are_already_queued() -> None:
    wakes = Wakes()
    mailbox = Mailbox(wakes)
    log: list[str] = []

    def enqueuing() -> None:
        mailbox.put(recorder(log, "inner"))

    mailbox.put(recorder(log, "a"))
    mailbox.put(recorder(log, "b"))
    mailbox.put(enqueuing)
    assert wakes.count == 3
    await bounded(mailbox.run_pending(), 5)
    assert wakes.count == 4  # the mail put from inside a mail woke it too
    assert log == ["a", "b", "inner"]


async def test_a_failing_mail_propagates_and_leaves_the_later_mails_queued() -> None:
    log: list[str] = []
    mailbox = Mailbox(Wakes())

    def failing() -> None:
        raise RuntimeError("timer failed")

    mailbox.put(recorder(log, "a"))
    mailbox.put(failing)
    mailbox.put(recorder(log, "c"))
    with pytest.raises(RuntimeError, match="timer failed"):
        await bounded(mailbox.run_pending(), 5)
    assert log == ["a"]
    assert len(mailbox) == 1
    assert await bounded(mailbox.run_pending(), 5) == 1
    assert log == ["a", "c"]
