"""Broadcast state end to end: rules reach every subtask, checkpoint, restore at any parallelism."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamrt import (
    GraphError,
    KeyedBroadcastProcessFunction,
    MapStateDescriptor,
    StreamExecutionEnvironment,
    WatermarkStrategy,
)
from streamrt.functions import RuntimeContext
from streamrt.runtime.state import ValueState
from streamrt.testing import CollectSink, GatedSource
from tests.conftest import bounded, cancel_and_expect_cancelled
from tests.e2e.pyflink_functions import (
    TAG,
    MyBroadcastProcessFunction,
    MyKeyedBroadcastProcessFunction,
)

# -- PyFlink's own tests of the broadcast functions (tests/e2e/pyflink_functions.py) ------------


def test_a_keyed_broadcast_process_function_written_for_pyflink_runs_unchanged(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    ds = env.from_collection(
        [(1, "1603708211000"), (2, "1603708212000"), (3, "1603708213000"), (4, "1603708214000")]
    )
    ds_broadcast = env.from_collection([(0, "1603708215000", "a"), (1, "1603708215000", "b")])
    watermark_strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
        lambda value, _: int(value[1])
    )
    ds = ds.assign_timestamps_and_watermarks(watermark_strategy)
    ds_broadcast = ds_broadcast.assign_timestamps_and_watermarks(watermark_strategy)
    map_state_desc = MapStateDescriptor("mapping", key_type_info=None, value_type_info=None)
    results = (
        ds.key_by(lambda t: t[0])
        .connect(ds_broadcast.broadcast(map_state_desc))
        .process(MyKeyedBroadcastProcessFunction(map_state_desc), output_type=None)  # type: ignore[no-untyped-call]
        .execute_and_collect("test_keyed_co_broadcast_process")
    )
    expected = [
        "value: 0a, ts: 1603708215000",
        "value: 0a, ts: 1603708215000",
        "value: 1, ts: 1603708221000",
        "value: 1b, ts: 1603708215000",
        "value: 1b, ts: 1603708215000",
        "value: 2, ts: 1603708222000",
        "value: 3, ts: 1603708223000",
        "value: 4, ts: 1603708224000",
        "value: a2, ts: 1603708212000",
        "value: a4, ts: 1603708214000",
        "value: b1, ts: 1603708211000",
        "value: b3, ts: 1603708213000",
    ]
    assert sorted(results) == expected


def test_a_broadcast_process_function_written_for_pyflink_runs_unchanged(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    ds = env.from_collection([("a", 0), ("b", 1), ("c", 2)])
    ds_broadcast = env.from_collection([(3, "d"), (4, "f")])
    map_state_desc = MapStateDescriptor("dummy", key_type_info=None, value_type_info=None)
    ds = ds.connect(ds_broadcast.broadcast(map_state_desc)).process(MyBroadcastProcessFunction())
    main: CollectSink[Any] = CollectSink()
    side: CollectSink[Any] = CollectSink()
    ds.get_side_output(TAG).sink_to(side)
    ds.sink_to(main)
    env.execute("test_co_broadcast_process_side_output")
    assert sorted(main.values) == ["a", "b", "c", "d", "d", "f", "f"]
    assert sorted(side.values) == [0, 1, 2, 3, 3, 4, 4]


def test_broadcast_functions_must_match_the_stream_kind(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory()
    data, rules = env.from_collection([1]), env.from_collection([2])
    broadcast = rules.broadcast(RULES)
    with pytest.raises(
        GraphError, match="KeyedBroadcastProcessFunction can only be used on a keyed"
    ):
        data.connect(broadcast).process(ApplyRules())  # type: ignore[arg-type]
    with pytest.raises(
        GraphError, match="BroadcastProcessFunction can only be used on a non-keyed"
    ):
        data.key_by(lambda v: v).connect(broadcast).process(MyBroadcastProcessFunction())
    with pytest.raises(GraphError, match="broadcast\\(\\) takes MapStateDescriptors"):
        rules.broadcast("rules")  # type: ignore[call-overload]
    assert type(rules.broadcast()).__name__ == "DataStream"  # no descriptor: partitioning only


# -- the rules pattern: every subtask gets every rule; every later record sees it --------------

RULES = MapStateDescriptor("rules")


class ApplyRules(KeyedBroadcastProcessFunction[tuple[str, int], str, Any]):
    """Tags each event with its subtask, its key's count and the rules known at that moment;
    each rule is acknowledged by every subtask that stores it."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.subtask = runtime_context.subtask_index
        self.count: ValueState[int] = runtime_context.get_state("count")

    def process_element(self, value: tuple[str, int], ctx: Any, out: Any) -> None:
        self.count.update((self.count.value() or 0) + 1)
        rules = tuple(sorted(ctx.get_broadcast_state(RULES).keys()))
        out.collect(("event", value[1], self.subtask, self.count.value(), rules))

    def process_broadcast_element(self, value: str, ctx: Any, out: Any) -> None:
        ctx.get_broadcast_state(RULES).put(value, True)
        out.collect(("ack", value, self.subtask))


EVENTS = [(f"user{i % 20}", i) for i in range(60)]


def rules_job(
    env: StreamExecutionEnvironment,
    events: GatedSource[tuple[str, int]],
    rules: GatedSource[str],
    sink: CollectSink[Any],
    parallelism: int,
) -> None:
    stream = env.from_source(events, source_name="events").set_parallelism(1).uid("events")
    rule_stream = env.from_source(rules, source_name="rules").set_parallelism(1).uid("rules")
    (
        stream.key_by(lambda e: e[0])
        .connect(rule_stream.broadcast(RULES))
        .process(ApplyRules())
        .uid("apply")
        .set_parallelism(parallelism)
        .sink_to(sink)
        .set_parallelism(1)
    )


def of_kind(sink: CollectSink[Any], kind: str) -> list[Any]:
    return [v for v in sink.values if v[0] == kind]


@pytest.mark.parametrize("restored_parallelism", [2, 4])
async def test_rules_reach_every_subtask_and_apply_to_every_later_record(
    tmp_path: Path,
    env_factory: Callable[..., StreamExecutionEnvironment],
    restored_parallelism: int,
) -> None:
    env = env_factory(parallelism=3)
    env.enable_checkpointing(3_600_000)
    events = GatedSource(EVENTS, limit=0, batch_size=4)
    rules = GatedSource(["r1", "r2", "r3"], limit=2, batch_size=1)
    sink: CollectSink[Any] = CollectSink()
    rules_job(env, events, rules, sink, parallelism=3)
    job = env.create_job("rules")
    running = asyncio.create_task(job.run())

    await sink.wait_for(6)  # r1 and r2, each acknowledged by all three subtasks
    assert sorted(of_kind(sink, "ack")) == [("ack", r, s) for r in ("r1", "r2") for s in range(3)]
    savepoint = await bounded(job.savepoint(tmp_path / "savepoints"))
    events.open_to(30)
    await sink.wait_for(36)
    rules.open_to(3)
    await sink.wait_for(39)
    events.open_to(len(EVENTS))
    await bounded(running)

    seen = of_kind(sink, "event")
    assert sorted(e[1] for e in seen) == list(range(60))
    assert {e[2] for e in seen} == {0, 1, 2}  # keys spread over every subtask
    assert all(e[4] == ("r1", "r2") for e in seen if e[1] < 30)
    assert all(e[4] == ("r1", "r2", "r3") for e in seen if e[1] >= 30)
    states = savepoint.operator_states("apply")
    assert [s["broadcast"] for s in states] == [{"rules": {"r1": True, "r2": True}}] * 3

    # restored at another parallelism: every new subtask holds the rules, none is re-read
    env2 = env_factory(parallelism=restored_parallelism)
    env2.enable_checkpointing(3_600_000)
    events2 = GatedSource(EVENTS, limit=len(EVENTS), batch_size=4)
    rules2 = GatedSource(["r1", "r2", "r3"], limit=2, batch_size=1)
    sink2: CollectSink[Any] = CollectSink()
    rules_job(env2, events2, rules2, sink2, parallelism=restored_parallelism)
    job2 = env2.create_job("rules", restore_from=savepoint.location)
    running2 = asyncio.create_task(job2.run())
    await sink2.wait_for(60)
    assert of_kind(sink2, "ack") == []
    seen2 = of_kind(sink2, "event")
    assert sorted(e[1] for e in seen2) == list(range(60))
    assert {e[2] for e in seen2} == set(range(restored_parallelism))
    assert all(e[4] == ("r1", "r2") for e in seen2)
    # keyed state moved by key group: each user's count goes on from the savepoint (0 events)
    assert sorted(e[3] for e in seen2 if e[1] < 20) == [1] * 20
    await cancel_and_expect_cancelled((job2, running2))
