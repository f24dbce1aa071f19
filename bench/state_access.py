"""Per-record cost of keyed state, TTL and the keyed shorthands, one operator at a time.

Drives single operators through ``OperatorHarness`` (no job, no channels), so the numbers are
the operator's own cost per record: a ``ValueState`` read and update without and with TTL, a
rolling ``sum`` against the equivalent ``reduce`` lambda, and a keyed ``map`` with a plain
callable against a ``MapFunction`` object (which gets the record's key set as current key).
Prints the median ns/record over rounds.

    python -m bench.state_access [--records N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from operators import Aggregation, KeyedAggregationOperator, MapOperator, ProcessOperator
from operators.reduce import ReduceOperator
from streamrt import (
    KeyedProcessFunction,
    MapFunction,
    RuntimeContext,
    StateTtlConfig,
    ValueStateDescriptor,
)
from streamrt.runtime.counters import WatermarkGauge
from streamrt.runtime.elements import StreamRecord
from streamrt.testing import OperatorHarness


class Count(KeyedProcessFunction[tuple[int, int], int]):
    def __init__(self, ttl: bool) -> None:
        self.ttl = ttl

    def open(self, runtime_context: RuntimeContext) -> None:
        descriptor = ValueStateDescriptor("count", None)
        if self.ttl:
            descriptor.enable_time_to_live(StateTtlConfig.new_builder(60_000).build())
        self.count = runtime_context.get_state(descriptor)

    def process_element(self, value: tuple[int, int], ctx: Any, out: Any) -> None:
        self.count.update((self.count.value() or 0) + 1)


class Identity(MapFunction[tuple[int, int], tuple[int, int]]):
    def map(self, value: tuple[int, int]) -> tuple[int, int]:
        return value


def key(value: tuple[int, int]) -> int:
    return value[0]


CASES: dict[str, Callable[[], Any]] = {
    "value state, no TTL": lambda: ProcessOperator(Count(ttl=False)),
    "value state, TTL": lambda: ProcessOperator(Count(ttl=True)),
    "reduce lambda (sum of field 1)": lambda: ReduceOperator(lambda a, b: (a[0], a[1] + b[1])),
    "sum(1)": lambda: KeyedAggregationOperator(Aggregation.SUM, 1),
    "max_by(1)": lambda: KeyedAggregationOperator(Aggregation.MAX_BY, 1),
    "keyed map, plain callable": lambda: MapOperator(lambda v: v),
    "keyed map, MapFunction": lambda: MapOperator(Identity()),
}


class _Discard:
    """An output that drops what it is given (the harness's would record every record)."""

    watermark_gauge = WatermarkGauge()

    def collect(self, record: Any) -> None:
        pass

    def collect_side(self, tag: Any, record: Any) -> None:
        pass

    def close(self) -> None:
        pass


async def ns_per_record(make: Callable[[], Any], records: list[tuple[int, int]]) -> float:
    operator = make()
    harness: OperatorHarness[Any] = OperatorHarness(operator, key_selector=key)
    operator.setup(harness.context, _Discard())  # again, with an output that costs nothing
    await harness.open()
    process = operator.process_element
    wrapped = [StreamRecord(r, None) for r in records]
    start = time.perf_counter_ns()
    for record in wrapped:
        process(record)
    return (time.perf_counter_ns() - start) / len(records)


async def main(count: int, rounds: int) -> None:
    records = [(i % 1_000, i) for i in range(count)]
    results: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(rounds):
        for name, make in CASES.items():
            results[name].append(await ns_per_record(make, records))
    for name, values in results.items():
        print(f"{name:32s} {statistics.median(values):7.0f} ns/record")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.records, arguments.rounds))
