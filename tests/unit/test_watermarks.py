"""Watermark generators, idleness, per-split combination, and the strategy API."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from streamrt import ConfigError, WatermarkStrategy
from streamrt.runtime.elements import Watermark
from streamrt.runtime.watermarks import (
    BoundedOutOfOrdernessWatermarks,
    WatermarkOutputMultiplexer,
    WatermarksWithIdleness,
)


class Out:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit_watermark(self, watermark: Watermark) -> None:
        self.events.append(watermark.timestamp)

    def mark_idle(self) -> None:
        self.events.append("idle")

    def mark_active(self) -> None:
        self.events.append("active")


def test_bounded_out_of_orderness_is_max_minus_delay_minus_one() -> None:
    gen, out = BoundedOutOfOrdernessWatermarks(100), Out()
    gen.on_periodic_emit(out)
    assert out.events == []  # nothing before the first record
    gen.on_batch([None] * 3, [1_000, 1_500, 1_200], out)
    gen.on_event(None, 1_400, out)
    gen.on_periodic_emit(out)
    assert out.events == [1_399]


def test_monotonous_is_max_minus_one() -> None:
    gen = WatermarkStrategy.for_monotonous_timestamps().create_generator()
    out = Out()
    gen.on_batch([None, None], [5, 9], out)
    gen.on_periodic_emit(out)
    assert out.events == [8]


def test_idleness_marks_idle_after_the_timeout_and_active_on_new_records() -> None:
    now = [0.0]
    gen = WatermarksWithIdleness(BoundedOutOfOrdernessWatermarks(0), 1_000, clock=lambda: now[0])
    out = Out()
    gen.on_batch([None], [50], out)
    gen.on_periodic_emit(out)  # activity: emits
    now[0] = 999
    gen.on_periodic_emit(out)  # quiet for 999 ms: still active, emits again
    now[0] = 2_000
    gen.on_periodic_emit(out)  # quiet for 2 s (>= 1 s): idle
    gen.on_periodic_emit(out)  # stays idle, silent
    gen.on_batch([None], [70], out)
    gen.on_periodic_emit(out)
    assert out.events == [49, 49, "idle", "active", 69]


def test_multiplexer_takes_the_minimum_over_non_idle_splits() -> None:
    mux = WatermarkOutputMultiplexer(lambda: BoundedOutOfOrdernessWatermarks(0))
    for split, ts in (("p0", 100), ("p1", 40), ("p2", 70)):
        gen, out = mux.split(split)
        gen.on_batch([None], [ts], out)
    assert mux.on_periodic_emit() == (Watermark(39), False)
    mux.split("p1")[1].mark_idle()
    assert mux.combine() == (Watermark(69), False)
    for split in ("p0", "p2"):
        mux.split(split)[1].mark_idle()
    assert mux.combine() == (None, True)
    mux.release("p1")
    assert mux.split_watermarks() == {"p0": 99, "p2": 69}


def test_the_combined_watermark_never_goes_back() -> None:
    mux = WatermarkOutputMultiplexer(lambda: BoundedOutOfOrdernessWatermarks(0))
    gen, out = mux.split("a")
    gen.on_batch([None], [100], out)
    assert mux.on_periodic_emit() == (Watermark(99), False)
    gen2, out2 = mux.split("b")  # a new split starts behind
    gen2.on_batch([None], [10], out2)
    assert mux.on_periodic_emit() == (None, False)


def test_strategy_accepts_timedelta_and_rejects_bad_values() -> None:
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(datetime.timedelta(seconds=2))
    assert isinstance(strategy.create_generator(), BoundedOutOfOrdernessWatermarks)
    assert strategy.create_generator().out_of_orderness_ms == 2_000  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="max_out_of_orderness must be a non-negative int"):
        WatermarkStrategy.for_bounded_out_of_orderness(-1)
    with pytest.raises(ConfigError, match="idle_timeout must be > 0 ms"):
        strategy.with_idleness(0)
    with pytest.raises(ConfigError, match="the timestamp assigner must be callable"):
        strategy.with_timestamp_assigner(5)  # type: ignore[arg-type]
    idle = strategy.with_idleness(500)
    assert isinstance(idle.create_generator(), WatermarksWithIdleness)
