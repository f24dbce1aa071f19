"""InputGate: round robin over channels with data, blocking during alignment, end, close."""

from __future__ import annotations

import asyncio

import pytest

from streamrt.errors import ChannelClosedError
from streamrt.runtime.channel import LocalChannel
from streamrt.runtime.input_gate import InputGate


class Wakes:
    """Counts the gate's wake-ups."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def gate_with(n: int, capacity: int = 4) -> tuple[InputGate, list[LocalChannel], Wakes]:
    channels = [LocalChannel(capacity, f"ch{i}") for i in range(n)]
    wakes = Wakes()
    return InputGate(channels, wakes), channels, wakes


def drain(gate: InputGate) -> list[tuple[int, object]]:
    polled = []
    while (message := gate.poll()) is not None:
        polled.append(message)
    return polled


def test_an_empty_gate_polls_nothing_and_wakes_nobody() -> None:
    gate, channels, wakes = gate_with(2)
    assert gate.poll() is None
    assert wakes.count == 0
    assert [c.index for c in channels] == [0, 1]


def test_channels_with_data_are_served_round_robin_one_message_at_a_time() -> None:
    gate, channels, _ = gate_with(3)
    for message in ("a0", "a1", "a2"):
        channels[0].send(message)
    for message in ("b0", "b1"):
        channels[1].send(message)
    channels[2].send("c0")
    assert drain(gate) == [
        (0, "a0"),
        (1, "b0"),
        (2, "c0"),
        (0, "a1"),
        (1, "b1"),
        (0, "a2"),
    ]


def test_a_channel_is_queued_in_the_order_its_data_arrived() -> None:
    gate, channels, _ = gate_with(3)
    channels[2].send("c0")
    channels[0].send("a0")
    channels[1].send("b0")
    assert drain(gate) == [(2, "c0"), (0, "a0"), (1, "b0")]


def test_a_channel_that_turns_non_empty_again_goes_to_the_back() -> None:
    gate, channels, _ = gate_with(2)
    channels[0].send("a0")
    channels[1].send("b0")
    channels[1].send("b1")
    assert gate.poll() == (0, "a0")  # channel 0 is now empty and leaves the ready queue
    channels[0].send("a1")
    assert drain(gate) == [(1, "b0"), (0, "a1"), (1, "b1")]


def test_wake_runs_only_when_a_channel_turns_non_empty() -> None:
    gate, channels, wakes = gate_with(2)
    channels[0].send("a0")
    channels[0].send("a1")
    assert wakes.count == 1
    channels[1].send("b0")
    assert wakes.count == 2
    drain(gate)
    channels[0].send("a2")
    assert wakes.count == 3


def test_a_blocked_channel_is_not_served_and_keeps_its_messages_in_order() -> None:
    gate, channels, wakes = gate_with(2)
    channels[0].send("barrier")
    channels[0].send("a-after")
    channels[1].send("b0")
    assert gate.poll() == (0, "barrier")
    gate.block(0)  # the barrier arrived on channel 0; channel 1 has not sent it yet
    channels[0].send("a-later")
    assert wakes.count == 2  # data on a blocked channel wakes nobody
    assert drain(gate) == [(1, "b0")]
    assert len(channels[0]) == 2
    gate.unblock_all()
    assert wakes.count == 3
    assert drain(gate) == [(0, "a-after"), (0, "a-later")]


def test_a_blocked_empty_channel_stays_silent_until_unblocked() -> None:
    gate, channels, wakes = gate_with(2)
    gate.block(1)
    channels[1].send("b0")
    channels[0].send("a0")
    assert drain(gate) == [(0, "a0")]
    assert wakes.count == 1
    gate.unblock_all()
    assert wakes.count == 2
    assert drain(gate) == [(1, "b0")]


def test_unblocking_goes_behind_the_channels_already_ready() -> None:
    gate, channels, _ = gate_with(3)
    channels[0].send("a0")
    gate.block(0)
    channels[1].send("b0")
    channels[2].send("c0")
    gate.unblock_all()
    assert drain(gate) == [(1, "b0"), (2, "c0"), (0, "a0")]


def test_unblocking_an_empty_channel_does_not_wake() -> None:
    gate, channels, wakes = gate_with(2)
    gate.block(0)
    gate.block(1)
    gate.unblock_all()
    assert wakes.count == 0
    assert gate.poll() is None
    channels[0].send("a0")  # served again once unblocked
    assert drain(gate) == [(0, "a0")]


def test_the_gate_is_finished_once_every_channel_ended() -> None:
    gate, _, _ = gate_with(3)
    assert not gate.finished
    gate.mark_finished(1)
    gate.mark_finished(1)  # counted once
    assert gate.num_finished == 1
    assert [gate.is_finished(i) for i in range(3)] == [False, True, False]
    gate.mark_finished(0)
    assert not gate.finished
    gate.mark_finished(2)
    assert gate.num_finished == 3
    assert gate.finished


def test_a_gate_without_channels_is_finished() -> None:
    gate = InputGate([], Wakes())
    assert gate.finished
    assert gate.poll() is None


async def test_close_closes_every_channel_and_releases_a_waiting_producer() -> None:
    gate, channels, _ = gate_with(2, capacity=1)
    channels[0].send("a0")
    channels[1].send("b0")
    assert not channels[0].writable
    # step the producer's wait by hand up to its first suspension: no scheduling involved
    waiting = channels[0].wait_writable()
    waiter = waiting.send(None)
    assert isinstance(waiter, asyncio.Future)
    assert not waiter.done()
    gate.close()
    assert waiter.done()
    with pytest.raises(StopIteration):
        waiting.send(None)  # the producer's wait returns: the consumer has gone
    assert [c.closed for c in channels] == [True, True]
    assert [len(c) for c in channels] == [0, 0]
    with pytest.raises(ChannelClosedError, match="channel ch1 is closed: its consumer has stopped"):
        channels[1].send("b1")
