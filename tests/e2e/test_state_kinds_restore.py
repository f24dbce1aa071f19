"""Every kind of keyed state, declared with descriptors, survives a savepoint and a rescale."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from streamrt import (
    AggregateFunction,
    AggregatingStateDescriptor,
    KeyedProcessFunction,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    RuntimeContext,
    StateTtlConfig,
    StreamExecutionEnvironment,
    Time,
    ValueStateDescriptor,
)
from streamrt.testing import CollectSink, GatedSource
from tests.conftest import bounded, cancel_and_expect_cancelled

COUNT = 1_200
KEYS = 5
RECORDS = [(i % KEYS, i) for i in range(COUNT)]


class MeanOf(AggregateFunction[int, list[int], float]):
    def create_accumulator(self) -> list[int]:
        return [0, 0]

    def add(self, value: int, accumulator: list[int]) -> list[int]:
        accumulator[0] += value
        accumulator[1] += 1
        return accumulator

    def get_result(self, accumulator: list[int]) -> float:
        return accumulator[0] / accumulator[1]


class EveryKind(KeyedProcessFunction[tuple[int, int], tuple[Any, ...]]):
    def open(self, runtime_context: RuntimeContext) -> None:
        hour = StateTtlConfig.new_builder(Time.hours(1)).cleanup_full_snapshot().build()
        with_ttl = ValueStateDescriptor("first", None)
        with_ttl.enable_time_to_live(hour)
        self.first = runtime_context.get_state(with_ttl)
        self.last = runtime_context.get_state(ValueStateDescriptor("last", None))
        self.all = runtime_context.get_list_state(ListStateDescriptor("all", None))
        self.by_rest = runtime_context.get_map_state(MapStateDescriptor("by_rest", None, None))
        self.total = runtime_context.get_reducing_state(
            ReducingStateDescriptor("total", lambda a, b: a + b, None)
        )
        self.mean = runtime_context.get_aggregating_state(
            AggregatingStateDescriptor("mean", MeanOf(), None)
        )

    def process_element(self, value: tuple[int, int], ctx: Any, out: Any) -> None:
        key, i = value
        if self.first.value() is None:
            self.first.update(i)
        self.last.update(i)
        self.all.add(i)
        self.by_rest.put(i % 3, (self.by_rest.get(i % 3) or 0) + 1)
        self.total.add(i)
        self.mean.add(i)
        out.collect(
            (
                key,
                self.first.value(),
                self.last.value(),
                self.all.get(),
                dict(sorted(self.by_rest.items())),
                self.total.get(),
                self.mean.get(),
            )
        )


def expected_finals() -> dict[int, tuple[Any, ...]]:
    finals = {}
    for key in range(KEYS):
        mine = [i for k, i in RECORDS if k == key]
        counts = {r: sum(1 for i in mine if i % 3 == r) for r in range(3)}
        finals[key] = (key, mine[0], mine[-1], mine, counts, sum(mine), sum(mine) / len(mine))
    return finals


def job(
    env: StreamExecutionEnvironment, gate: GatedSource[tuple[int, int]], parallelism: int
) -> CollectSink[tuple[Any, ...]]:
    sink: CollectSink[tuple[Any, ...]] = CollectSink()
    source = env.from_source(gate, source_name="numbers").set_parallelism(1)
    kinds = source.key_by(lambda r: r[0]).process(EveryKind()).uid("kinds")
    kinds.set_parallelism(parallelism).sink_to(sink).set_parallelism(1)
    return sink


@pytest.mark.parametrize("parallelisms", [(2, 2), (2, 3)])
async def test_every_state_kind_comes_back_exact(
    tmp_path: Path, parallelisms: tuple[int, int]
) -> None:
    before, after = parallelisms
    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(3_600_000)
    sink = job(env, GatedSource(RECORDS, 600), before)
    first_run = env.create_job("kinds")
    running = asyncio.create_task(first_run.run())
    await sink.wait_for(600)
    savepoint = await bounded(first_run.savepoint(tmp_path / "savepoints"))
    await cancel_and_expect_cancelled((first_run, running))
    kinds = {
        name: kind
        for state in savepoint.operator_states("kinds")
        for name, kind in state["keyed"]["kinds"].items()
    }
    assert kinds == {
        "first": "value+ttl",
        "last": "value",
        "all": "list",
        "by_rest": "map",
        "total": "reducing",
        "mean": "aggregating",
    }

    env2 = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env2.enable_checkpointing(3_600_000)
    sink2 = job(env2, GatedSource(RECORDS, COUNT), after)  # resumes at record 600
    await bounded(env2.create_job("kinds", restore_from=savepoint.location).run())
    assert len(sink2.values) == COUNT - 600
    finals = {v[0]: v for v in sink2.values}  # one sink subtask: the last per key is the final
    assert finals == expected_finals()
