"""Object reuse off (the default) isolates every operator from the others' mutations.

The record path skips copies of values nobody else can reach (docs/object-reuse.md); every test
here has a second holder of some value, so each fails if a copy is skipped where it is needed.
Each mutating step comes right after the one it must not disturb, so the hop between them is the
one that could skip the copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streamrt import (
    DataStream,
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    StreamExecutionEnvironment,
    ValueStateDescriptor,
)
from streamrt.testing import CollectSink


def mutate(tag: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def fn(d: dict[str, Any]) -> dict[str, Any]:
        d["seen_by"].append(tag)
        d["owner"] = tag
        return d

    return fn


@pytest.mark.parametrize("parallelism", [1, 2])
async def test_a_mutating_branch_cannot_corrupt_another_branch(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int
) -> None:
    env = env_factory(parallelism=parallelism)
    source = env.from_collection([{"id": i, "seen_by": []} for i in range(20)])
    a: CollectSink[dict[str, Any]] = CollectSink()
    b: CollectSink[dict[str, Any]] = CollectSink()
    source.map(mutate("a")).sink_to(a)
    source.map(mutate("b")).sink_to(b)
    await env.execute_async("branches")
    assert sorted(d["id"] for d in a.values) == list(range(20))
    assert all(d["seen_by"] == ["a"] and d["owner"] == "a" for d in a.values)
    assert all(d["seen_by"] == ["b"] and d["owner"] == "b" for d in b.values)


async def test_an_upstream_mutating_after_emit_cannot_change_what_was_emitted(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    def counter(n: int) -> Iterator[dict[str, int]]:
        shared = {"i": 0}
        for i in range(n):
            shared["i"] = i  # the same object, emitted again after each change
            yield shared

    env = env_factory()
    sink: CollectSink[dict[str, int]] = CollectSink()
    env.from_collection([5]).flat_map(counter).key_by(lambda d: "all").map(dict).sink_to(sink)
    await env.execute_async("emit-then-mutate")
    assert sink.values == [{"i": i} for i in range(5)]


async def test_downstream_mutation_cannot_corrupt_reduce_state(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory()
    totals: CollectSink[int] = CollectSink()

    def vandalize(d: dict[str, int]) -> dict[str, int]:
        d["total"] = -1000  # would poison the accumulator if it were shared
        return d

    running = (
        env.from_collection([{"k": 1, "total": 1}] * 4)
        .key_by(lambda d: d["k"])
        .reduce(lambda acc, d: {"k": acc["k"], "total": acc["total"] + d["total"]})
    )
    running.map(vandalize).sink_to(CollectSink())
    running.map(lambda d: d["total"]).sink_to(totals)
    await env.execute_async("state isolation")
    assert totals.values == [1, 2, 3, 4]


async def test_with_object_reuse_branches_share_values_but_not_records(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(object_reuse=True)
    source: DataStream[dict[str, Any]] = env.from_collection(
        [{"id": i, "seen_by": []} for i in range(3)]
    )
    a: CollectSink[dict[str, Any]] = CollectSink()
    b: CollectSink[int] = CollectSink()
    source.map(mutate("a")).sink_to(a)
    source.map(lambda d: int(d["id"])).sink_to(b)  # replaces the value in its own record
    await env.execute_async("reuse")
    # the record wrapper is fresh per branch, so branch b still sees ids; the value is shared,
    # which is the documented contract of object reuse
    assert sorted(b.values) == [0, 1, 2]
    assert all(d["seen_by"] == ["a"] for d in a.values)


def vandalize(v: Any) -> Any:
    """Overwrite every field of a dict in place and return it; other values pass unchanged."""
    if type(v) is dict:
        for key in v:
            v[key] = "vandalized"
    return v


class RunningCount(KeyedProcessFunction[dict[str, Any], dict[str, Any]]):
    """Keeps one dict per key in state, counts into it in place, and emits that very dict."""

    def open(self, ctx: Any) -> None:
        self.total = ctx.get_state(ValueStateDescriptor("total", None))

    def process_element(self, value: dict[str, Any], ctx: Any, out: Any) -> None:
        total = self.total.value()
        if total is None:
            total = {"k": value["k"], "count": 0}
            self.total.update(total)
        total["count"] += 1  # fails if a downstream operator vandalized the state's dict
        out.collect(total)


@pytest.mark.parametrize("cross_task", [False, True])
async def test_a_value_in_keyed_state_and_its_emitted_copies_stay_apart(
    env_factory: Callable[..., StreamExecutionEnvironment], cross_task: bool
) -> None:
    counts: list[tuple[int, int]] = []

    def note_then_vandalize(d: dict[str, Any]) -> dict[str, Any]:
        counts.append((d["k"], d["count"]))
        return vandalize(d)  # type: ignore[no-any-return]

    env = env_factory(parallelism=2 if cross_task else 1)
    emitted = (
        env.from_collection([{"k": i % 2} for i in range(6)])
        .key_by(lambda d: d["k"])
        .process(RunningCount())
    )
    if cross_task:
        emitted = emitted.rebalance()  # the consumer runs after the state changed again
    emitted.map(note_then_vandalize).sink_to(CollectSink())
    await env.execute_async("state isolation")
    assert sorted(counts) == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]


@pytest.mark.parametrize("cross_task", [False, True])
async def test_a_function_that_keeps_its_input_keeps_it_unchanged(
    env_factory: Callable[..., StreamExecutionEnvironment], cross_task: bool
) -> None:
    kept: list[dict[str, Any]] = []

    def keep_and_return(d: dict[str, Any]) -> dict[str, Any]:
        kept.append(d)
        return d

    env = env_factory(parallelism=2 if cross_task else 1)
    stream = env.from_collection([{"n": i} for i in range(5)]).map(lambda d: {"n": d["n"]})
    stream = stream.map(keep_and_return)
    if cross_task:
        stream = stream.rebalance()
    sink: CollectSink[dict[str, Any]] = CollectSink()
    stream.map(vandalize).sink_to(sink)
    await env.execute_async("kept input")
    assert sorted(d["n"] for d in kept) == [0, 1, 2, 3, 4]
    assert sink.values == [{"n": "vandalized"}] * 5


async def test_a_shared_object_a_function_returns_is_never_handed_on(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    cache = {"DE": {"country": "DE", "vat": 19}}
    env = env_factory()
    sink: CollectSink[dict[str, Any]] = CollectSink()
    env.from_collection(["DE"] * 3).map(lambda c: cache[c]).map(vandalize).sink_to(sink)
    await env.execute_async("cached lookup")
    assert cache == {"DE": {"country": "DE", "vat": 19}}
    assert sink.values == [{"country": "vandalized", "vat": "vandalized"}] * 3


@pytest.mark.parametrize("cross_task", [False, True])
async def test_a_container_shared_inside_a_new_value_is_copied(
    env_factory: Callable[..., StreamExecutionEnvironment], cross_task: bool
) -> None:
    defaults = ["new"]

    def tag(d: dict[str, Any]) -> dict[str, Any]:
        d["tags"].append(f"seen-{d['n']}")
        return d

    env = env_factory(parallelism=2 if cross_task else 1)
    stream = env.from_collection([0, 1, 2]).map(lambda n: {"n": n, "tags": defaults})
    if cross_task:
        stream = stream.rebalance()
    sink: CollectSink[dict[str, Any]] = CollectSink()
    stream.map(tag).sink_to(sink)
    await env.execute_async("nested sharing")
    assert defaults == ["new"]
    assert sorted(d["tags"][1] for d in sink.values) == ["seen-0", "seen-1", "seen-2"]


async def test_a_value_emitted_to_main_and_side_output_reaches_each_unchanged(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    audit: OutputTag[dict[str, Any]] = OutputTag("audit")

    class Both(ProcessFunction[int, dict[str, Any]]):
        def process_element(self, value: int, ctx: Any, out: Any) -> None:
            d = {"n": value}
            out.collect(d)
            ctx.output(audit, d)

    env = env_factory()
    both = env.from_collection([0, 1, 2]).process(Both())
    main: CollectSink[dict[str, Any]] = CollectSink()
    side: CollectSink[dict[str, Any]] = CollectSink()
    both.map(vandalize).sink_to(main)
    both.get_side_output(audit).sink_to(side)
    await env.execute_async("main and side")
    assert main.values == [{"n": "vandalized"}] * 3
    assert side.values == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_a_collector_emitting_one_object_again_after_changing_it(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    class Counter(ProcessFunction[int, dict[str, int]]):
        def process_element(self, value: int, ctx: Any, out: Any) -> None:
            shared = {"i": 0}
            for i in range(value):
                shared["i"] = i
                out.collect(shared)  # the function still holds it, and changes it next

    env = env_factory()
    sink: CollectSink[dict[str, int]] = CollectSink()
    env.from_collection([4]).process(Counter()).sink_to(sink)
    await env.execute_async("collector reuse")
    assert sink.values == [{"i": i} for i in range(4)]
