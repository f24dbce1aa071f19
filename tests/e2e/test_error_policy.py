"""Error policies for user functions: fail (default), skip (counted), side output (counted)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streamrt import (
    FAILED_RECORDS,
    ConfigError,
    DataStream,
    FailedRecord,
    OperatorError,
    StreamExecutionEnvironment,
)
from streamrt.testing import CollectSink


def parse(line: str) -> int:
    return int(line)


LINES = ["1", "2", "x", "4", "", "6"]


async def test_skip_counts_every_failed_record(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    sink: CollectSink[int] = CollectSink()
    env.from_collection(LINES).map(parse).name("parse").on_error("skip").sink_to(sink)
    result = await env.execute_async("skip")
    assert sorted(sink.values) == [1, 2, 4, 6]
    stats = result.statistics.operator("parse")
    assert (stats.records_in, stats.records_out, stats.errors) == (6, 4, 2)


@pytest.mark.parametrize("parallelism", [1, 2])
async def test_side_output_carries_the_failed_value_and_the_error(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int
) -> None:
    env = env_factory(parallelism=parallelism)
    good: CollectSink[int] = CollectSink()
    bad: CollectSink[FailedRecord] = CollectSink()
    parsed: DataStream[int] = (
        env.from_collection(LINES).map(parse).name("parse").on_error("side_output")
    )
    parsed.filter(lambda v: v % 2 == 0).on_error("skip").sink_to(good)
    parsed.get_side_output(FAILED_RECORDS).rebalance().sink_to(bad)
    result = await env.execute_async("side output")
    assert sorted(good.values) == [2, 4, 6]
    failures = sorted(bad.values, key=lambda f: f.value)
    assert [(f.value, f.operator, f.error_type) for f in failures] == [
        ("", "parse", "ValueError"),
        ("x", "parse", "ValueError"),
    ]
    assert "invalid literal for int()" in failures[1].error_message
    stats = result.statistics.operator("parse")
    assert (stats.records_out, stats.errors) == (6, 2)  # 4 main + 2 side, each counted once


def failing_at(bad: int) -> Callable[[int], int]:
    def fn(v: int) -> int:
        if v == bad:
            raise ValueError(f"cannot take {v}")
        return v

    return fn


def test_each_operator_kind_applies_the_policy() -> None:
    env = StreamExecutionEnvironment()
    out: CollectSink[int] = CollectSink()
    on_1, on_2, on_3, on_4, on_5 = (failing_at(n) for n in (1, 2, 3, 4, 5))

    def process(v: int, ctx: Any, collector: Any) -> None:
        collector.collect(on_4(v))

    processed: DataStream[int] = (
        env.from_collection(range(10))
        .map(on_1)
        .name("map")
        .on_error("skip")
        .filter(lambda v: on_2(v) >= 0)
        .name("filter")
        .on_error("skip")
        .flat_map(lambda v: [on_3(v)])
        .name("flat map")
        .on_error("skip")
        .process(process)
        .name("process")
        .on_error("skip")
    )
    (
        processed.key_by(lambda v: "all")
        .reduce(lambda a, b: on_5(a + b))
        .name("sum")
        .on_error("skip")
        .sink_to(out)
    )
    result = env.execute("kinds")
    # 0 5 6 7 8 9 reach the sum; 0 + 5 fails there and the stored 0 stays
    assert out.values == [0, 6, 13, 21, 30]
    errors = {o.operator: o.errors for o in result.statistics.operators}
    assert [errors[n] for n in ("map", "filter", "flat map", "process", "sum")] == [1, 1, 1, 1, 1]


def test_fail_is_the_default_and_names_the_operator() -> None:
    env = StreamExecutionEnvironment()
    env.from_collection(LINES).map(parse).name("parse").sink_to(CollectSink())
    with pytest.raises(OperatorError, match=r"operator 'parse' .* ValueError: invalid literal"):
        env.execute("fail")


def test_an_unknown_policy_is_named() -> None:
    env = StreamExecutionEnvironment()
    with pytest.raises(
        ConfigError,
        match="on_error must be 'fail', 'skip' or 'side_output'; got 'ignore' for 'Map'",
    ):
        env.from_collection([1]).map(str).on_error("ignore")  # type: ignore[arg-type]
