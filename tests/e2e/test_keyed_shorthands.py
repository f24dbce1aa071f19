"""Keyed rolling aggregations: sum/min/max/min_by/max_by on tuples, dicts and objects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from operators import Aggregation, KeyedAggregationOperator
from streamrt import (
    FAILED_RECORDS,
    GraphError,
    OperatorError,
    RecordError,
    Row,
    StreamExecutionEnvironment,
)
from streamrt.testing import CollectSink, GatedSource, OperatorHarness
from tests.conftest import bounded, cancel_and_expect_cancelled

EnvFactory = Callable[..., StreamExecutionEnvironment]

RECORDS = [("a", 1, "x"), ("b", 5, "y"), ("a", 3, "z"), ("a", 2, "w"), ("b", 5, "q")]

#: per key, what each aggregation of field 1 emits for RECORDS (Flink's semantics)
EXPECTED = {
    "sum": {
        "a": [("a", 1, "x"), ("a", 4, "x"), ("a", 6, "x")],
        "b": [("b", 5, "y"), ("b", 10, "y")],
    },
    "min": {"a": [("a", 1, "x")] * 3, "b": [("b", 5, "y")] * 2},
    "max": {"a": [("a", 1, "x"), ("a", 3, "x"), ("a", 3, "x")], "b": [("b", 5, "y")] * 2},
    "min_by": {"a": [("a", 1, "x")] * 3, "b": [("b", 5, "y")] * 2},
    "max_by": {"a": [("a", 1, "x"), ("a", 3, "z"), ("a", 3, "z")], "b": [("b", 5, "y")] * 2},
}


def per_key(values: list[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = {}
    for value in values:
        grouped.setdefault(key(value), []).append(value)
    return grouped


async def run(
    env: StreamExecutionEnvironment,
    records: list[Any],
    key: Callable[[Any], Any],
    aggregate: Callable[[Any], Any],
) -> list[Any]:
    sink: CollectSink[Any] = CollectSink()
    keyed = env.from_collection(records).set_parallelism(1).key_by(key)
    aggregate(keyed).sink_to(sink)
    await env.execute_async("shorthands")
    return sink.values


@pytest.mark.parametrize("aggregation", list(EXPECTED))
@pytest.mark.parametrize("parallelism", [1, 2])
async def test_tuples_by_position(
    env_factory: EnvFactory, aggregation: str, parallelism: int
) -> None:
    env = env_factory(parallelism=parallelism)
    values = await run(env, RECORDS, lambda r: r[0], lambda s: getattr(s, aggregation)(1))
    assert per_key(values, lambda r: r[0]) == EXPECTED[aggregation]


@pytest.mark.parametrize("aggregation", list(EXPECTED))
async def test_dicts_by_key(env_factory: EnvFactory, aggregation: str) -> None:
    records = [{"user": u, "n": n, "tag": t} for u, n, t in RECORDS]
    values = await run(
        env_factory(), records, lambda r: r["user"], lambda s: getattr(s, aggregation)("n")
    )
    expected = {
        k: [{"user": u, "n": n, "tag": t} for u, n, t in rows]
        for k, rows in EXPECTED[aggregation].items()
    }
    assert per_key(values, lambda r: r["user"]) == expected


@dataclass(frozen=True)
class Frozen:
    user: str
    n: int
    tag: str


@dataclass
class Mutable:
    user: str
    n: int
    tag: str


@dataclass
class Scored:
    score: int


class Named(NamedTuple):
    user: str
    n: int
    tag: str


class Plain:
    __slots__ = ("n", "tag", "user")

    def __init__(self, user: str, n: int, tag: str) -> None:
        self.user, self.n, self.tag = user, n, tag

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Plain) and (self.user, self.n, self.tag) == (
            other.user,
            other.n,
            other.tag,
        )

    def __hash__(self) -> int:
        return hash((self.user, self.n, self.tag))

    def __repr__(self) -> str:
        return f"Plain({self.user!r}, {self.n!r}, {self.tag!r})"


@pytest.mark.parametrize("aggregation", list(EXPECTED))
@pytest.mark.parametrize(
    ("make", "field"),
    [
        (Frozen, "n"),
        (Mutable, "n"),
        (Named, "n"),
        (Named, 1),
        (Plain, "n"),
        (lambda u, n, t: Row(user=u, n=n, tag=t), "n"),
        (lambda u, n, t: Row(u, n, t), 1),
        (lambda u, n, t: [u, n, t], 1),
    ],
)
async def test_objects_by_attribute_and_other_sequences(
    env_factory: EnvFactory, aggregation: str, make: Callable[..., Any], field: int | str
) -> None:
    def user_of(record: Any) -> str:
        positional = isinstance(record, list | tuple) or (isinstance(record, Row) and field == 1)
        return record[0] if positional else record.user  # type: ignore[no-any-return]

    records = [make(*r) for r in RECORDS]
    values = await run(env_factory(), records, user_of, lambda s: getattr(s, aggregation)(field))
    expected = {k: [make(*r) for r in rows] for k, rows in EXPECTED[aggregation].items()}
    assert per_key(values, user_of) == expected
    assert [type(v) for v in values] == [type(records[0])] * len(values)


async def test_position_0_of_a_number_is_the_number(env_factory: EnvFactory) -> None:
    env = env_factory(parallelism=1)
    values = await run(env, [1, 2, 3, 4, 5], lambda n: n % 2, lambda s: s.sum())
    assert values == [1, 2, 4, 6, 9]


async def test_the_input_records_and_emitted_results_are_never_changed(
    env_factory: EnvFactory,
) -> None:
    records = [["a", 1], ["a", 2], ["a", 3]]
    env = env_factory(object_reuse=True)  # the operator sees the very objects of the source
    values = await run(env, records, lambda r: r[0], lambda s: s.sum(1))
    assert values == [["a", 1], ["a", 3], ["a", 6]]
    assert records == [["a", 1], ["a", 2], ["a", 3]]


@pytest.mark.parametrize("field", [-1, 1.5, "", None, True])
def test_a_field_that_cannot_name_a_field_is_refused(env_factory: EnvFactory, field: Any) -> None:
    keyed = env_factory().from_collection([(1, 2)]).key_by(lambda r: r[0])
    with pytest.raises(GraphError) as info:
        keyed.max_by(field)
    assert str(info.value) == (
        "max_by() needs a field: a position >= 0 (tuples, lists, Rows) or a name (dict keys, "
        f"attributes); got {field!r}"
    )


@pytest.mark.parametrize(
    ("aggregation", "field", "first", "bad", "message"),
    [
        (
            Aggregation.SUM,
            "n",
            {"k": 1, "n": 1},
            {"k": 1, "count": 2},
            "sum('n') in operator 'operator under test': a dict record has no key 'n': "
            "{'k': 1, 'count': 2}",
        ),
        (
            Aggregation.MAX,
            2,
            (1, 5, 6),
            (1, 5),
            "max(2) in operator 'operator under test': a tuple record has no position 2 "
            "(it has 2): (1, 5)",
        ),
        (
            Aggregation.MIN_BY,
            "score",
            Scored(1),
            Mutable("u", 1, "t"),
            "min_by('score') in operator 'operator under test': a Mutable record has no "
            "attribute 'score': Mutable(user='u', n=1, tag='t')",
        ),
        (
            Aggregation.SUM,
            1,
            (1, 2),
            {"k": 1},
            "sum(1) in operator 'operator under test': a dict record has no position 1: {'k': 1}",
        ),
        (
            Aggregation.MIN,
            3,
            ("u", 1, "t", 9),
            Named("u", 1, "t"),
            "min(3) in operator 'operator under test': a Named record has no position 3 "
            "(it has 3): Named(user='u', n=1, tag='t')",
        ),
    ],
)
async def test_a_record_without_the_field_is_a_precise_record_error(
    aggregation: Aggregation, field: int | str, first: Any, bad: Any, message: str
) -> None:
    def key(record: Any) -> int:
        return 1

    harness = OperatorHarness(
        KeyedAggregationOperator(aggregation, field), key_selector=key, error_policy="skip"
    )
    await harness.open()
    harness.process_element(first)
    harness.process_element(bad)  # skipped, counted; the stored result stays
    harness.process_element(first)
    assert harness.operator.metrics.errors.count == 1  # type: ignore[attr-defined]
    values = harness.values()
    assert (len(values), values[0]) == (2, first)

    failing = OperatorHarness(KeyedAggregationOperator(aggregation, field), key_selector=key)
    await failing.open()
    with pytest.raises(RecordError) as info:
        failing.process_element(bad)
    assert str(info.value) == message


async def test_a_bad_record_fails_the_job_or_goes_to_the_side_output(
    env_factory: EnvFactory,
) -> None:
    records: list[dict[str, Any]] = [{"k": "a", "n": 1}, {"k": "a"}, {"k": "a", "n": 2}]
    env = env_factory()
    keyed = env.from_collection(records).set_parallelism(1).key_by(lambda r: r["k"])
    keyed.sum("n").name("total").sink_to(CollectSink())
    with pytest.raises(OperatorError, match="operator 'total'") as info:
        await env.execute_async("fails")
    assert isinstance(info.value.__cause__, RecordError)

    env = env_factory()
    sums: CollectSink[Any] = CollectSink()
    failed: CollectSink[Any] = CollectSink()
    keyed = env.from_collection(records).set_parallelism(1).key_by(lambda r: r["k"])
    totals = keyed.sum("n").name("total").on_error("side_output")
    totals.sink_to(sums)
    totals.get_side_output(FAILED_RECORDS).sink_to(failed)
    await env.execute_async("diverts")
    assert sums.values == [{"k": "a", "n": 1}, {"k": "a", "n": 3}]
    assert [(f.value, f.operator, f.error_type) for f in failed.values] == [
        ({"k": "a"}, "total", "RecordError")
    ]


async def test_rolling_sums_survive_a_savepoint_and_a_rescale(tmp_path: Path) -> None:
    count, keys = 1_200, 7
    records = [(i % keys, i) for i in range(count)]
    expected = {k: sum(i for i in range(count) if i % keys == k) for k in range(keys)}

    def job(
        env: StreamExecutionEnvironment, gate: GatedSource[Any], parallelism: int
    ) -> CollectSink[Any]:
        sink: CollectSink[Any] = CollectSink()
        source = env.from_source(gate, source_name="numbers").set_parallelism(1)
        totals = source.key_by(lambda r: r[0]).sum(1).uid("sum").set_parallelism(parallelism)
        totals.sink_to(sink).set_parallelism(1)
        return sink

    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(3_600_000)
    gate = GatedSource(records, 500)
    sink = job(env, gate, 2)
    running_job = env.create_job("sums")
    running = asyncio.create_task(running_job.run())
    await sink.wait_for(500)
    savepoint = await bounded(running_job.savepoint(tmp_path / "savepoints"))
    await cancel_and_expect_cancelled((running_job, running))

    env2 = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env2.enable_checkpointing(3_600_000)
    sink2 = job(env2, GatedSource(records, count), 3)  # the source resumes at record 500
    await bounded(env2.create_job("sums", restore_from=savepoint.location).run())
    finals = {k: max(v[1] for v in sink2.values if v[0] == k) for k in range(keys)}
    assert finals == expected
    assert len(sink2.values) == count - 500
