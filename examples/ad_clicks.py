"""Windows and joins on ad events: clicks per ad per minute, and clicks joined to impressions.

``python -m examples.ad_clicks`` runs it on generated, bounded input (no Kafka needed):

* **windowed aggregation**: clicks per ad in 1-minute tumbling event-time windows, counted
  incrementally (``aggregate``) and labelled with the window's end (a ``ProcessWindowFunction``);
* **interval join**: each click joined with the impressions of the same user and ad shown in
  the 5 minutes before it (``interval_join(...).between(-5 min, 0)``): the attributed clicks,
  with the delay from impression to click.

Both read event time from the events (``t``, epoch ms) with a bounded out-of-orderness of 30 s.
The same pipeline runs on Kafka by replacing ``from_collection`` with a ``KafkaSource``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streamrt import (
    AggregateFunction,
    DataStream,
    ProcessJoinFunction,
    ProcessWindowFunction,
    StreamExecutionEnvironment,
    Time,
    TumblingEventTimeWindows,
    WatermarkStrategy,
)
from streamrt.testing import CollectSink

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WINDOW = Time.minutes(1)
ATTRIBUTION = Time.minutes(5)


@dataclass(frozen=True, slots=True)
class Event:
    """An impression or a click of ``user`` on ``ad`` at ``t`` (epoch ms)."""

    kind: str
    user: str
    ad: str
    t: int


def generate(n_impressions: int, seed: int = 3) -> tuple[list[Event], list[Event]]:
    """Impressions over about an hour, a quarter of them clicked up to 8 minutes later.

    Both lists are sorted by time, then jittered by up to 20 s, as a real feed arrives.
    """
    rng = random.Random(seed)
    impressions, clicks = [], []
    for i in range(n_impressions):
        t = START_MS + i * 3_600_000 // n_impressions
        shown = Event("impression", f"user-{rng.randrange(500)}", f"ad-{rng.randrange(8)}", t)
        impressions.append(shown)
        if rng.random() < 0.25:
            clicks.append(Event("click", shown.user, shown.ad, t + rng.randrange(480_000)))
    clicks.sort(key=lambda e: e.t)

    def jitter(events: list[Event]) -> list[Event]:
        return sorted(events, key=lambda e: e.t + rng.randrange(20_000))

    return jitter(impressions), jitter(clicks)


class CountClicks(AggregateFunction[Event, int, int]):
    """How many clicks a window holds (one int per window and ad, not the clicks)."""

    def create_accumulator(self) -> int:
        return 0

    def add(self, value: Event, accumulator: int) -> int:
        return accumulator + 1

    def get_result(self, accumulator: int) -> int:
        return accumulator

    def merge(self, acc_a: int, acc_b: int) -> int:
        return acc_a + acc_b


class PerMinute(ProcessWindowFunction[int, tuple[str, int, int], str, Any]):
    """``(ad, window end, clicks)``: the count with the window it belongs to."""

    def process(self, key: str, context: Any, elements: Iterable[int]) -> Iterable[Any]:
        for count in elements:
            yield key, context.window().end, count


class Attribute(ProcessJoinFunction[Event, Event, tuple[str, str, int]]):
    """``(user, ad, delay ms)`` for a click (left) and an impression before it (right)."""

    def process_element(self, left: Event, right: Event, ctx: Any, out: Any) -> None:
        out.collect((left.user, left.ad, left.t - right.t))


def event_time() -> WatermarkStrategy:
    """Event time from ``t``, at most 30 s out of order."""
    return WatermarkStrategy.for_bounded_out_of_orderness(30_000).with_timestamp_assigner(
        lambda event, _: event.t
    )


def pipeline(
    env: StreamExecutionEnvironment, impressions: list[Event], clicks: list[Event]
) -> tuple[DataStream[tuple[str, int, int]], DataStream[tuple[str, str, int]]]:
    """Clicks per ad per minute, and the clicks attributed to an impression."""
    shown = env.from_collection(impressions).assign_timestamps_and_watermarks(event_time())
    clicked = env.from_collection(clicks).assign_timestamps_and_watermarks(event_time())
    per_minute = (
        clicked.key_by(lambda e: e.ad)
        .window(TumblingEventTimeWindows.of(WINDOW))
        .aggregate(CountClicks(), window_function=PerMinute())
        .name("clicks per ad per minute")
        .uid("clicks-per-minute")
    )
    attributed = (
        clicked.key_by(lambda e: (e.user, e.ad))
        .interval_join(shown.key_by(lambda e: (e.user, e.ad)))
        .between(-ATTRIBUTION, 0)
        .process(Attribute())
        .name("attribute clicks")
        .uid("attribute-clicks")
    )
    return per_minute, attributed


def run(n_impressions: int = 4_000) -> tuple[list[Any], list[Any]]:
    """Run the job on generated input; return both outputs."""
    env = StreamExecutionEnvironment(parallelism=2)
    impressions, clicks = generate(n_impressions)
    per_minute, attributed = pipeline(env, impressions, clicks)
    minutes: CollectSink[tuple[str, int, int]] = CollectSink()
    joined: CollectSink[tuple[str, str, int]] = CollectSink()
    per_minute.sink_to(minutes).name("minutes").set_parallelism(1)
    attributed.sink_to(joined).name("attributed").set_parallelism(1)
    env.execute("ad clicks")
    return minutes.values, joined.values


def main() -> None:
    minutes, attributed = run()
    busiest = max(minutes, key=lambda r: r[2])
    print(f"{len(minutes)} (ad, minute) counts; busiest: {busiest[0]} with {busiest[2]} clicks")
    delays = sorted(delay for _, _, delay in attributed)
    print(
        f"{len(attributed)} (click, impression) pairs within 5 minutes; "
        f"median delay {delays[len(delays) // 2] / 1000:.0f} s"
    )


if __name__ == "__main__":
    main()
