"""InternalTimerService: event- and processing-time timers per key, dedup, delete, snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamrt.runtime.elements import MIN_WATERMARK
from streamrt.runtime.state import KeyedStateBackend
from streamrt.runtime.timer_service import InternalTimerService


class Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualProcessingTime:
    """A ProcessingTimeService whose clock moves only when the test says so."""

    def __init__(self, now: int = 0) -> None:
        self.now = now
        self.registered: list[tuple[int, Callable[[int], None], Handle]] = []

    def current_processing_time(self) -> int:
        return self.now

    def register_timer(self, timestamp_ms: int, callback: Callable[[int], None]) -> Handle:
        handle = Handle()
        self.registered.append((timestamp_ms, callback, handle))
        return handle

    def wakeups(self) -> list[tuple[int, bool]]:
        """Every wake-up asked for, with whether it was cancelled."""
        return [(ts, handle.cancelled) for ts, _, handle in self.registered]

    def advance_to(self, now: int) -> None:
        """Move the clock and deliver every due, uncancelled wake-up, earliest first."""
        self.now = now
        while due := [r for r in self.registered if r[0] <= now and not r[2].cancelled]:
            ts, callback, handle = min(due, key=lambda r: r[0])
            handle.cancelled = True  # delivered once
            callback(ts)


class Fired:
    """Records (timestamp, key, the backend's current key while firing)."""

    def __init__(self, backend: KeyedStateBackend) -> None:
        self.backend = backend
        self.calls: list[tuple[int, Any, Any]] = []

    def __call__(self, timestamp: int, key: Any) -> None:
        self.calls.append((timestamp, key, self.backend.current_key))


def make(
    now: int = 0,
) -> tuple[InternalTimerService, KeyedStateBackend, ManualProcessingTime, Fired, Fired]:
    backend = KeyedStateBackend()
    clock = ManualProcessingTime(now)
    on_event, on_processing = Fired(backend), Fired(backend)
    return (
        InternalTimerService(backend, clock, on_event, on_processing),
        backend,
        clock,
        on_event,
        on_processing,
    )


def register_event(
    service: InternalTimerService, backend: KeyedStateBackend, key: Any, ts: int
) -> None:
    backend.current_key = key
    service.register_event_time_timer(ts)


def register_processing(
    service: InternalTimerService, backend: KeyedStateBackend, key: Any, ts: int
) -> None:
    backend.current_key = key
    service.register_processing_time_timer(ts)


def test_event_time_timers_fire_in_timestamp_order_with_their_key_current() -> None:
    service, backend, _, on_event, on_processing = make()
    assert service.current_watermark == MIN_WATERMARK
    register_event(service, backend, "a", 30)
    register_event(service, backend, "b", 10)
    register_event(service, backend, "c", 20)
    register_event(service, backend, "a", 50)
    backend.current_key = "unrelated"
    service.advance_watermark(25)
    assert on_event.calls == [(10, "b", "b"), (20, "c", "c")]
    assert service.current_watermark == 25
    assert service.num_event_time_timers() == 2
    service.advance_watermark(50)  # a timer at exactly the watermark fires
    assert on_event.calls[2:] == [(30, "a", "a"), (50, "a", "a")]
    assert service.num_event_time_timers() == 0
    assert on_processing.calls == []


def test_timers_at_one_timestamp_fire_in_registration_order() -> None:
    service, backend, _, on_event, _ = make()
    for key in ("y", "x", "z"):
        register_event(service, backend, key, 10)
    service.advance_watermark(10)
    assert [key for _, key, _ in on_event.calls] == ["y", "x", "z"]


def test_a_watermark_before_every_timer_fires_nothing() -> None:
    service, backend, _, on_event, _ = make()
    register_event(service, backend, "a", 10)
    service.advance_watermark(9)
    assert on_event.calls == []
    assert service.num_event_time_timers() == 1


def test_the_same_timer_registered_twice_fires_once() -> None:
    service, backend, _, on_event, _ = make()
    register_event(service, backend, "a", 10)
    register_event(service, backend, "a", 10)
    register_event(service, backend, "b", 10)  # same time, other key: its own timer
    assert service.num_event_time_timers() == 2
    service.advance_watermark(100)
    assert on_event.calls == [(10, "a", "a"), (10, "b", "b")]


def test_a_deleted_event_time_timer_does_not_fire_and_only_the_current_keys_is_deleted() -> None:
    service, backend, _, on_event, _ = make()
    register_event(service, backend, "a", 10)
    register_event(service, backend, "b", 10)
    backend.current_key = "a"
    service.delete_event_time_timer(10)
    service.delete_event_time_timer(99)  # never registered: no error
    assert service.num_event_time_timers() == 1
    service.advance_watermark(10)
    assert on_event.calls == [(10, "b", "b")]


def test_a_timer_registered_again_after_delete_fires_once() -> None:
    service, backend, _, on_event, _ = make()
    register_event(service, backend, "a", 10)
    service.delete_event_time_timer(10)
    service.register_event_time_timer(10)
    service.advance_watermark(10)
    assert on_event.calls == [(10, "a", "a")]


def test_processing_time_timers_wake_for_the_earliest_and_fire_as_the_clock_passes() -> None:
    service, backend, clock, on_event, on_processing = make(now=0)
    assert service.current_processing_time() == 0
    register_processing(service, backend, "a", 100)
    register_processing(service, backend, "b", 50)  # earlier: replaces the wake-up at 100
    register_processing(service, backend, "c", 70)  # later than the wake-up: nothing new
    assert clock.wakeups() == [(100, True), (50, False)]
    clock.advance_to(60)
    assert on_processing.calls == [(50, "b", "b")]
    assert clock.wakeups()[2:] == [(70, False)]  # the next wake-up, for the next timer
    clock.advance_to(100)
    assert on_processing.calls[1:] == [(70, "c", "c"), (100, "a", "a")]
    assert on_event.calls == []


def test_a_late_wake_up_fires_every_timer_up_to_the_current_time() -> None:
    service, backend, clock, _, on_processing = make(now=0)
    register_processing(service, backend, "a", 50)
    register_processing(service, backend, "b", 70)
    register_processing(service, backend, "c", 90)
    # the wake-up for 50 is delivered only at 80 (a busy task): 50 and 70 fire together
    clock.now = 80
    _, callback, handle = clock.registered[0]
    handle.cancelled = True
    callback(50)
    assert on_processing.calls == [(50, "a", "a"), (70, "b", "b")]
    assert clock.wakeups()[1:] == [(90, False)]


def test_processing_time_dedup_and_delete() -> None:
    service, backend, clock, _, on_processing = make(now=0)
    register_processing(service, backend, "a", 10)
    register_processing(service, backend, "a", 10)
    register_processing(service, backend, "b", 20)
    backend.current_key = "b"
    service.delete_processing_time_timer(20)
    clock.advance_to(30)
    assert on_processing.calls == [(10, "a", "a")]


def test_state_dict_round_trip_restores_the_pending_timers() -> None:
    service, backend, _, _, _ = make(now=0)
    register_event(service, backend, "a", 30)
    register_event(service, backend, "b", 10)
    register_event(service, backend, "c", 5)
    register_processing(service, backend, "a", 200)
    register_processing(service, backend, "b", 100)
    service.advance_watermark(5)  # c's timer fired: not part of the snapshot
    state = service.state_dict()
    assert state == {"event": [(10, "b"), (30, "a")], "processing": [(100, "b"), (200, "a")]}

    restored, backend2, clock2, on_event2, on_processing2 = make(now=0)
    restored.load_state_dict(state)
    assert restored.state_dict() == state
    assert restored.num_event_time_timers() == 2
    assert clock2.wakeups() == [(100, False)]  # restored earliest first: one wake-up
    restored.advance_watermark(30)
    assert on_event2.calls == [(10, "b", "b"), (30, "a", "a")]
    clock2.advance_to(200)
    assert on_processing2.calls == [(100, "b", "b"), (200, "a", "a")]
    assert backend2.current_key == "a"


def test_namespaced_timers_fire_with_their_namespace_and_snapshot_as_triples() -> None:
    backend = KeyedStateBackend()
    calls: list[tuple[int, Any, Any]] = []
    service = InternalTimerService(
        backend,
        ManualProcessingTime(),
        lambda ts, key, namespace: calls.append((ts, key, namespace)),
        lambda ts, key, namespace: None,
        namespaced=True,
    )
    backend.current_key = "a"
    service.register_event_time_timer(9, "w1")
    service.register_event_time_timer(9, "w2")
    service.register_event_time_timer(9, "w1")  # deduplicated per namespace
    service.register_event_time_timer(4)  # no namespace: the two-item form in snapshots
    service.delete_event_time_timer(9, "w2")
    assert service.state_dict()["event"] == [(4, "a"), (9, "a", "w1")]
    service.advance_watermark(10)
    assert calls == [(4, "a", None), (9, "a", "w1")]


def test_snapshots_of_two_item_timers_still_load() -> None:
    service, _, _, on_event, _ = make()
    service.load_state_dict({"event": [(10, "b"), [20, "c", "w"]], "processing": []})
    assert service.state_dict()["event"] == [(10, "b"), (20, "c", "w")]
    service.advance_watermark(10)
    assert on_event.calls == [(10, "b", "b")]
