"""The watermark valve: per-channel monotonic, min over active channels, idleness, flushes."""

from __future__ import annotations

from typing import Any

from streamrt.runtime.elements import Watermark, WatermarkStatus
from streamrt.runtime.watermark_valve import StatusWatermarkValve

ACTIVE, IDLE = WatermarkStatus.ACTIVE, WatermarkStatus.IDLE


class Out:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit_watermark(self, watermark: Watermark) -> None:
        self.events.append(watermark.timestamp)

    def emit_watermark_status(self, status: WatermarkStatus) -> None:
        self.events.append(status)

    def take(self) -> list[Any]:
        events, self.events = self.events, []
        return events


def feed(valve: StatusWatermarkValve, out: Out, channel: int, value: int) -> list[Any]:
    valve.input_watermark(Watermark(value), channel, out)
    return out.take()


def test_output_is_the_minimum_over_channels_and_only_rises() -> None:
    valve, out = StatusWatermarkValve(3), Out()
    assert feed(valve, out, 0, 10) == []
    assert feed(valve, out, 1, 5) == []
    assert feed(valve, out, 2, 7) == [5]
    assert feed(valve, out, 1, 20) == [7]
    assert feed(valve, out, 2, 30) == [10]
    assert feed(valve, out, 0, 25) == [20]


def test_a_channel_cannot_go_backwards() -> None:
    valve, out = StatusWatermarkValve(2), Out()
    feed(valve, out, 0, 10)
    assert feed(valve, out, 1, 10) == [10]
    assert feed(valve, out, 0, 3) == []  # ignored: channel 0 already had 10
    assert valve.channel_watermarks() == [10, 10]
    assert feed(valve, out, 1, 12) == []
    assert feed(valve, out, 0, 11) == [11]


def test_an_idle_channel_does_not_hold_the_minimum_back() -> None:
    valve, out = StatusWatermarkValve(2), Out()
    feed(valve, out, 0, 100)
    valve.input_watermark_status(IDLE, 1, out)
    assert out.take() == [100]
    assert feed(valve, out, 0, 150) == [150]


def test_all_idle_flushes_the_maximum_then_announces_idle() -> None:
    valve, out = StatusWatermarkValve(2), Out()
    feed(valve, out, 0, 10)
    feed(valve, out, 1, 4)  # output 4
    valve.input_watermark_status(IDLE, 0, out)
    assert out.take() == []  # channel 0 (10) was not the minimum; channel 1 (4) still active
    valve.input_watermark_status(IDLE, 1, out)
    assert out.take() == [10, IDLE]
    # while the valve is idle, watermarks on idle channels are ignored
    assert feed(valve, out, 0, 50) == []


def test_a_channel_rejoins_only_after_catching_up() -> None:
    valve, out = StatusWatermarkValve(2), Out()
    feed(valve, out, 0, 10)
    valve.input_watermark_status(IDLE, 1, out)
    assert out.take() == [10]
    feed(valve, out, 0, 40)  # output 40
    valve.input_watermark_status(ACTIVE, 1, out)
    assert out.take() == []  # channel 1 is at MIN: active, but not aligned
    assert feed(valve, out, 1, 30) == []  # still behind the output (40): not counted
    assert feed(valve, out, 0, 60) == [60]
    assert feed(valve, out, 1, 45) == []  # 45 < 60: behind, not aligned
    assert feed(valve, out, 1, 70) == []  # aligned now (70 >= 60); min(60, 70) = 60, no rise
    assert feed(valve, out, 0, 80) == [70]


def test_reactivation_of_an_idle_valve_announces_active() -> None:
    valve, out = StatusWatermarkValve(1), Out()
    valve.input_watermark_status(IDLE, 0, out)
    assert out.take() == [IDLE]
    valve.input_watermark_status(ACTIVE, 0, out)
    assert out.take() == [ACTIVE]
    assert feed(valve, out, 0, 5) == [5]


def test_a_finished_channel_releases_event_time() -> None:
    valve, out = StatusWatermarkValve(2), Out()
    feed(valve, out, 0, 10)
    feed(valve, out, 1, 3)  # output 3
    valve.channel_finished(1, out)
    assert out.take() == [10]
