"""Two-input throughput: a co-map against the same work after a union, and an interval join.

A two-input task looks up which input a buffer feeds once per buffer, so a ``connect().map()``
should cost what ``union().map()`` costs. Both run over two collections of N records each, at
p=1 with object reuse on, alternately per round. The interval join (keyed, 1,000 keys, +-5 ms
over timestamps 1 ms apart per side) shows what buffering and cleanup timers cost per record.

    python -m bench.two_input_throughput [--records N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from streamrt import CoMapFunction, ProcessJoinFunction, StreamExecutionEnvironment
from streamrt.runtime.watermark_strategy import WatermarkStrategy
from streamrt.testing import CollectSink


class Tag(CoMapFunction[int, int, int]):
    def map1(self, value: int) -> int:
        return value + 1

    def map2(self, value: int) -> int:
        return value + 1


class Pair(ProcessJoinFunction[Any, Any, Any]):
    def process_element(self, left: Any, right: Any, ctx: Any, out: Any) -> None:
        out.collect(left[1])


def environment() -> StreamExecutionEnvironment:
    return StreamExecutionEnvironment(parallelism=1, object_reuse=True, buffer_timeout_ms=100)


def union_map(n: int) -> int:
    env = environment()
    sink: CollectSink[int] = CollectSink()
    a, b = env.from_collection(range(n)), env.from_collection(range(n))
    a.union(b).map(lambda v: v + 1).sink_to(sink)
    env.execute("union")
    return len(sink)


def connect_map(n: int) -> int:
    env = environment()
    sink: CollectSink[int] = CollectSink()
    a, b = env.from_collection(range(n)), env.from_collection(range(n))
    a.connect(b).map(Tag()).sink_to(sink)
    env.execute("connect")
    return len(sink)


def interval_join(n: int) -> int:
    env = environment()
    sink: CollectSink[int] = CollectSink()
    by_time = WatermarkStrategy.for_bounded_out_of_orderness(0).with_timestamp_assigner(
        lambda e, _: e[1]
    )
    left = env.from_collection([(i % 1_000, i) for i in range(n)])
    right = env.from_collection([(i % 1_000, i) for i in range(n)])
    (
        left.assign_timestamps_and_watermarks(by_time)
        .key_by(lambda e: e[0])
        .interval_join(right.assign_timestamps_and_watermarks(by_time).key_by(lambda e: e[0]))
        .between(-5, 5)
        .process(Pair())
        .sink_to(sink)
    )
    env.execute("interval join")
    return len(sink)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.records
    # (the job, how many results it must give: one per record, one pair per left record)
    cases: dict[str, tuple[Callable[[int], int], int]] = {
        "union + map": (union_map, 2 * n),
        "connect + co-map": (connect_map, 2 * n),
        "interval join (keyed)": (interval_join, n),
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (case, expected) in cases.items():
            start = time.perf_counter()
            results = case(n)
            rates[name].append(2 * n / (time.perf_counter() - start))
            if results != expected:
                raise SystemExit(f"{name}: {results} results, expected {expected}")
    print(f"2 x {n} records in, {args.rounds} rounds, median records/s (both inputs counted)")
    for name, values in rates.items():
        print(f"{name:28} {statistics.median(values):>12,.0f}")


if __name__ == "__main__":
    main()
