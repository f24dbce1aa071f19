"""LingerTimer: one timer per flush cycle; due once the linger time passed; reset by flushes."""

from __future__ import annotations

from collections.abc import Callable

from streamrt.runtime.linger import LingerTimer
from streamrt.runtime.processing_time import Cancellable
from streamrt.testing import ManualProcessingTimeService


def test_due_linger_ms_after_the_first_pending_record() -> None:
    pts = ManualProcessingTimeService(now_ms=1_000)
    linger = LingerTimer(pts, 5)
    assert not linger.armed and not linger.due
    linger.arm()
    assert linger.armed
    pts.advance_to(1_004)
    assert not linger.due
    pts.advance_to(1_005)
    assert linger.due


def test_a_flush_ends_the_cycle_and_its_timer() -> None:
    pts = ManualProcessingTimeService(now_ms=0)
    linger = LingerTimer(pts, 5)
    linger.arm()
    pts.advance_to(3)
    linger.reset()  # e.g. the buffer filled up and was flushed
    assert not linger.armed and not linger.due
    pts.advance_to(100)
    assert not linger.due  # the old cycle's timer does nothing
    linger.arm()  # the next record starts a new cycle, timed from now
    pts.advance_to(104)
    assert not linger.due
    pts.advance_to(105)
    assert linger.due


def test_a_timer_that_fired_after_its_cycle_ended_does_nothing() -> None:
    # the timer's mail may already be queued when a flush ends its cycle
    fired: list[Callable[[int], None]] = []

    class Recording(ManualProcessingTimeService):
        def register_timer(self, timestamp_ms: int, callback: Callable[[int], None]) -> Cancellable:
            fired.append(callback)
            return super().register_timer(timestamp_ms, callback)

    pts = Recording()
    linger = LingerTimer(pts, 5)
    linger.arm()
    linger.reset()
    linger.arm()
    fired[0](5)  # the first cycle's callback, run late
    assert not linger.due
    fired[1](5)
    assert linger.due


def test_zero_is_due_after_the_current_batch_and_negative_never() -> None:
    pts = ManualProcessingTimeService(now_ms=7)
    now = LingerTimer(pts, 0)
    now.arm()
    pts.advance_to(7)
    assert now.due
    never = LingerTimer(pts, -1)
    assert never.armed  # nothing to arm: the per-record check never fires
    never.arm()
    pts.advance_to(10**9)
    assert not never.due
    never.reset()
    assert never.armed


def test_a_busy_task_sees_the_deadline_on_the_clock_before_the_timer_fires() -> None:
    # the timer is a mail that needs the event loop; a task processing batch after batch checks
    # availability after each one, and that reads the clock
    class NoTimers(ManualProcessingTimeService):
        def advance_to(self, now_ms: int) -> None:
            self.now_ms = now_ms  # the clock moves, no timer fires

    pts = NoTimers(now_ms=50)
    linger = LingerTimer(pts, 5)
    assert not linger.expired()  # nothing pending
    linger.arm()
    pts.advance_to(54)
    assert not linger.expired()
    pts.advance_to(55)
    assert linger.expired() and linger.due
    linger.reset()
    assert not linger.expired()
    never = LingerTimer(pts, -1)
    pts.advance_to(10**9)
    assert not never.expired()
