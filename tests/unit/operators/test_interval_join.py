"""The interval join operator against a nested-loop reference; cleanup, lateness, errors."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators import IntervalJoinOperator
from operators.interval_join import LEFT_BUFFER, RIGHT_BUFFER
from streamrt import MAX_WATERMARK, GraphError, OutputTag, ProcessJoinFunction, RecordError
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.state_assignment import _redistribute
from streamrt.testing import TwoInputOperatorHarness

#: how far each side's records may arrive out of order (its watermark trails by this + 1)
DISORDER = 5


class Pair(ProcessJoinFunction[Any, Any, Any]):
    def process_element(self, left: Any, right: Any, ctx: Any, out: Any) -> None:
        assert ctx.get_timestamp() == max(ctx.get_left_timestamp(), ctx.get_right_timestamp())
        out.collect((left, right))


def harness(
    lower: int, upper: int, *, lower_inclusive: bool = True, upper_inclusive: bool = True
) -> TwoInputOperatorHarness:
    operator = IntervalJoinOperator(
        Pair(),
        lower,
        upper,
        lower_bound_inclusive=lower_inclusive,
        upper_bound_inclusive=upper_inclusive,
    )
    return TwoInputOperatorHarness(
        operator, key_selector1=lambda v: v[0], key_selector2=lambda v: v[0]
    )


def reference(
    left: list[tuple[str, int, int]],
    right: list[tuple[str, int, int]],
    lower: int,
    upper: int,
    lower_inclusive: bool,
    upper_inclusive: bool,
) -> list[tuple[Any, Any, int]]:
    """Every pair of equal key with the right timestamp inside the left one's interval."""
    pairs = []
    for lv in left:
        for rv in right:
            delta = rv[1] - lv[1]
            above = delta >= lower if lower_inclusive else delta > lower
            below = delta <= upper if upper_inclusive else delta < upper
            if lv[0] == rv[0] and above and below:
                pairs.append((lv, rv, max(lv[1], rv[1])))
    return sorted(pairs)


def arrival_order(values: list[tuple[str, int, int]], seed: int) -> list[tuple[str, int, int]]:
    """Out of order by at most ``DISORDER``: sorted by timestamp plus a jitter in 0..DISORDER."""
    rng = random.Random(seed)
    return sorted(values, key=lambda v: v[1] + rng.randint(0, DISORDER))


side = st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 30)), min_size=3, max_size=25).map(
    lambda vs: [(k, ts, i) for i, (k, ts) in enumerate(vs)]
)  # i makes values distinct


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(
    left=side,
    right=side,
    bounds=st.tuples(st.integers(-10, 10), st.integers(-10, 10)).map(sorted),
    lower_inclusive=st.booleans(),
    upper_inclusive=st.booleans(),
    seed=st.integers(0, 2**16),
)
async def test_results_equal_a_nested_loop_join_and_state_ends_empty(
    left: list[tuple[str, int, int]],
    right: list[tuple[str, int, int]],
    bounds: list[int],
    lower_inclusive: bool,
    upper_inclusive: bool,
    seed: int,
) -> None:
    lower, upper = bounds
    h = await harness(
        lower, upper, lower_inclusive=lower_inclusive, upper_inclusive=upper_inclusive
    ).open()
    rng = random.Random(seed)
    pending = [(1, v) for v in arrival_order(left, seed)]
    pending_right = [(2, v) for v in arrival_order(right, seed + 1)]
    highest = {1: -1, 2: -1}
    # interleave the two sides at random, each side keeping its own arrival order
    while pending or pending_right:
        take_left = pending and (not pending_right or rng.random() < 0.5)
        number, value = (pending if take_left else pending_right).pop(0)
        if number == 1:
            h.process_element1(value, value[1])
        else:
            h.process_element2(value, value[1])
        if value[1] > highest[number]:
            highest[number] = value[1]
            # bounded out-of-orderness: no later record of this side is at or below this
            mark = highest[number] - DISORDER - 1
            (h.process_watermark1 if number == 1 else h.process_watermark2)(mark)
    joined = sorted(
        (e.value[0], e.value[1], e.timestamp) for e in h.emitted if isinstance(e, StreamRecord)
    )
    assert reference(left, right, lower, upper, lower_inclusive, upper_inclusive) == joined
    assert h.context.metrics.late_records_dropped.count == 0
    h.process_watermark1(MAX_WATERMARK)
    h.process_watermark2(MAX_WATERMARK)
    join: Any = h.operator
    assert join.state_backend.table(LEFT_BUFFER, "map") == {}
    assert join.state_backend.table(RIGHT_BUFFER, "map") == {}
    assert join.timer_service.num_event_time_timers() == 0


async def test_state_is_cleaned_as_the_watermark_passes_each_buffers_last_use() -> None:
    h = await harness(-2, 3).open()
    h.process_element1(("k", "L10"), 10)  # joins right elements at 8..13: kept until 13
    h.process_element2(("k", "R10"), 10)  # joins left elements at 7..12: kept until 12
    join: Any = h.operator
    backend = join.state_backend
    h.process_watermark1(12)
    h.process_watermark2(12)
    assert backend.table(RIGHT_BUFFER, "map") == {}
    assert backend.table(LEFT_BUFFER, "map") == {"k": {10: [("k", "L10")]}}
    h.process_watermark1(13)
    h.process_watermark2(13)
    assert backend.table(LEFT_BUFFER, "map") == {}
    assert h.values() == [(("k", "L10"), ("k", "R10"))]


async def test_late_elements_are_dropped_and_counted() -> None:
    h = await harness(0, 5).open()
    h.process_watermark1(100)
    h.process_watermark2(100)
    h.process_element1(("k", "late left"), 99)
    h.process_element2(("k", "late right"), 50)
    h.process_element1(("k", "on time"), 100)
    h.process_element2(("k", "partner"), 104)
    assert h.values() == [(("k", "on time"), ("k", "partner"))]
    assert h.context.metrics.late_records_dropped.count == 2


async def test_records_without_timestamps_are_refused_naming_the_operator() -> None:
    h = await harness(0, 5).open()
    with pytest.raises(RecordError, match="'operator under test' got a record without a timestamp"):
        h.process_element1(("k", 1))


def test_the_function_must_be_a_process_join_function() -> None:
    with pytest.raises(GraphError, match="needs a ProcessJoinFunction"):
        IntervalJoinOperator(lambda a, b: None, 0, 1)  # type: ignore[arg-type]


class Yields(ProcessJoinFunction[Any, Any, Any]):
    """PyFlink's form: ``process_element(left, right, ctx)`` yields."""

    def process_element(self, left: Any, right: Any, ctx: Any) -> Any:  # type: ignore[override]
        yield f"{left[1]}+{right[1]}@{ctx.get_timestamp()}"


async def test_pyflinks_yielding_form_and_user_errors_follow_the_policy() -> None:
    h = await TwoInputOperatorHarness(
        IntervalJoinOperator(Yields(), -1, 1),
        key_selector1=lambda v: v[0],
        key_selector2=lambda v: v[0],
    ).open()
    h.process_element1(("k", "a"), 5)
    h.process_element2(("k", "b"), 6)
    assert h.values() == ["a+b@6"]

    class Fails(ProcessJoinFunction[Any, Any, Any]):
        def process_element(self, left: Any, right: Any, ctx: Any, out: Any) -> None:
            raise ValueError("bad pair")

    skipping = await TwoInputOperatorHarness(
        IntervalJoinOperator(Fails(), 0, 0),
        key_selector1=lambda v: v[0],
        key_selector2=lambda v: v[0],
        error_policy="skip",
    ).open()
    skipping.process_element1(("k", 1), 5)
    skipping.process_element2(("k", 2), 5)
    assert skipping.context.metrics.errors.count == 1
    failing = await TwoInputOperatorHarness(
        IntervalJoinOperator(Fails(), 0, 0),
        key_selector1=lambda v: v[0],
        key_selector2=lambda v: v[0],
    ).open()
    failing.process_element1(("k", 1), 5)
    with pytest.raises(ValueError, match="bad pair"):
        failing.process_element2(("k", 2), 5)


async def test_late_elements_go_to_their_sides_late_data_output_when_one_is_set() -> None:
    left_late: OutputTag[Any] = OutputTag("left-late")
    h = await TwoInputOperatorHarness(
        IntervalJoinOperator(Pair(), 0, 5, left_late_tag=left_late),
        key_selector1=lambda v: v[0],
        key_selector2=lambda v: v[0],
    ).open()
    h.process_watermark1(100)
    h.process_watermark2(100)
    h.process_element1(("k", "late left"), 99)
    h.process_element2(("k", "late right"), 50)
    assert [(left_late, StreamRecord(("k", "late left"), 99))] == h.emitted[1:]
    assert h.context.metrics.late_records_dropped.count == 1  # the right one: no tag, dropped


async def test_a_bucket_grows_in_place_and_state_dict_copies_are_independent() -> None:
    h = await harness(0, 10).open()
    join: Any = h.operator
    h.process_element1(("k", "a"), 1000)
    bucket = join.state_backend.table(LEFT_BUFFER, "map")["k"][1000]
    h.process_element1(("k", "b"), 1000)
    # appended, not copied: a copy per add made n adds to one timestamp quadratic
    assert join.state_backend.table(LEFT_BUFFER, "map")["k"][1000] is bucket
    assert bucket == [("k", "a"), ("k", "b")]

    saved = join.state_dict()
    h.process_element1(("k", "c"), 1000)
    assert saved["keyed"]["tables"][LEFT_BUFFER] == {"k": {1000: [("k", "a"), ("k", "b")]}}

    restored = await harness(0, 10).open()
    restored_join: Any = restored.operator
    restored_join.load_state_dict(saved)
    restored.process_element1(("k", "d"), 1000)
    assert saved["keyed"]["tables"][LEFT_BUFFER] == {"k": {1000: [("k", "a"), ("k", "b")]}}
    assert restored_join.state_backend.table(LEFT_BUFFER, "map") == {
        "k": {1000: [("k", "a"), ("k", "b"), ("k", "d")]}
    }
    restored.process_element2(("k", "r"), 1005)
    assert restored.values() == [
        (("k", "a"), ("k", "r")),
        (("k", "b"), ("k", "r")),
        (("k", "d"), ("k", "r")),
    ]


def advance(h: TwoInputOperatorHarness, watermark: int) -> None:
    h.process_watermark1(watermark)
    h.process_watermark2(watermark)


def buffers(h: TwoInputOperatorHarness) -> tuple[Any, Any]:
    join: Any = h.operator
    backend = join.state_backend
    return backend.table(LEFT_BUFFER, "map"), backend.table(RIGHT_BUFFER, "map")


async def left_and_right_elements() -> TwoInputOperatorHarness:
    """Bounds [-2, 3]: left buckets are done at ``t + 3``, right ones at ``t + 2``."""
    h = await harness(-2, 3).open()
    h.process_element1(("k", "L10"), 10)  # done at 13
    h.process_element2(("k", "R11"), 11)  # done at 13 too: a timer per side
    h.process_element1(("k", "L12"), 12)  # done at 15
    h.process_element2(("k", "R20"), 20)  # done at 22
    h.process_element1(("k", "L20"), 20)  # done at 23
    return h


async def test_each_cleanup_timer_removes_its_own_sides_bucket() -> None:
    h = await left_and_right_elements()
    join: Any = h.operator
    assert join.timer_service.state_dict()["event"] == [
        (13, "k", "CLEANUP_LEFT"),
        (13, "k", "CLEANUP_RIGHT"),
        (15, "k", "CLEANUP_LEFT"),
        (22, "k", "CLEANUP_RIGHT"),
        (23, "k", "CLEANUP_LEFT"),
    ]
    advance(h, 12)
    assert buffers(h) == (
        {"k": {10: [("k", "L10")], 12: [("k", "L12")], 20: [("k", "L20")]}},
        {"k": {11: [("k", "R11")], 20: [("k", "R20")]}},
    )
    advance(h, 13)
    assert buffers(h) == (
        {"k": {12: [("k", "L12")], 20: [("k", "L20")]}},
        {"k": {20: [("k", "R20")]}},
    )
    advance(h, 15)
    assert buffers(h) == ({"k": {20: [("k", "L20")]}}, {"k": {20: [("k", "R20")]}})
    advance(h, 22)
    assert buffers(h) == ({"k": {20: [("k", "L20")]}}, {})
    advance(h, 23)
    assert buffers(h) == ({}, {})
    assert join.timer_service.num_event_time_timers() == 0
    assert h.values() == [
        (("k", "L10"), ("k", "R11")),
        (("k", "L12"), ("k", "R11")),
        (("k", "L20"), ("k", "R20")),
    ]


class CountingBuckets(dict[int, list[Any]]):
    """A key's buckets that count every bucket the operator looks at (a spy, not a mock)."""

    visits = 0

    def _visit(self, n: int = 1) -> None:
        self.visits += n

    def __iter__(self) -> Any:
        for ts in super().__iter__():
            self._visit()
            yield ts

    def keys(self) -> Any:
        return list(iter(self))

    def items(self) -> Any:
        return [(ts, super(CountingBuckets, self).__getitem__(ts)) for ts in self]

    def values(self) -> Any:
        return [v for _, v in self.items()]

    def __getitem__(self, ts: int) -> list[Any]:
        self._visit()
        return super().__getitem__(ts)

    def get(self, ts: int, default: Any = None) -> Any:
        self._visit()
        return super().get(ts, default)

    def pop(self, ts: int, *default: Any) -> Any:
        self._visit()
        return super().pop(ts, *default)

    def __delitem__(self, ts: int) -> None:
        self._visit()
        super().__delitem__(ts)

    def __contains__(self, ts: object) -> bool:
        self._visit()
        return super().__contains__(ts)


@pytest.mark.parametrize("buffered", [10, 1000])
async def test_a_cleanup_timer_visits_one_bucket_however_many_are_buffered(
    buffered: int,
) -> None:
    h = await harness(0, 5).open()
    for ts in range(buffered):
        h.process_element1(("k", ts), ts)  # left buckets 0.., each done at ts + 5
    left, _ = buffers(h)
    spy = left["k"] = CountingBuckets(left["k"])
    for watermark in (5, 6, 7):  # one timer each
        spy.visits = 0
        advance(h, watermark)
        assert spy.visits == 1
        assert sorted(spy) == list(range(watermark - 4, buffered))


def checkpoint_without_timer_sides() -> dict[str, Any]:
    """What ``left_and_right_elements`` checkpointed before cleanup timers had a side: one
    timer per cleanup time, ``(timestamp, key)``, shared by the two sides (taken from
    ``snapshot_state()`` of the operator as it was)."""
    return {
        "keyed": {
            "kinds": {LEFT_BUFFER: "map", RIGHT_BUFFER: "map"},
            "tables": {
                LEFT_BUFFER: {"k": {10: [("k", "L10")], 12: [("k", "L12")], 20: [("k", "L20")]}},
                RIGHT_BUFFER: {"k": {11: [("k", "R11")], 20: [("k", "R20")]}},
            },
        },
        "timers": {"event": [(13, "k"), (15, "k"), (22, "k"), (23, "k")], "processing": []},
    }


async def test_a_checkpoint_whose_timers_have_no_side_still_restores() -> None:
    h = await harness(-2, 3).open()
    join: Any = h.operator
    join.load_state_dict(checkpoint_without_timer_sides())
    h.process_element1(("k", "L10b"), 10)  # a new-style timer at 13 beside the old one
    h.process_element2(("k", "R13"), 13)  # done at 15, as the old timer of L12
    assert h.values() == [
        (("k", "L10b"), ("k", "R11")),
        (("k", "L10"), ("k", "R13")),
        (("k", "L10b"), ("k", "R13")),
        (("k", "L12"), ("k", "R13")),
    ]
    advance(h, 13)  # an old timer stands for the buckets of both sides done at its time
    assert buffers(h) == (
        {"k": {12: [("k", "L12")], 20: [("k", "L20")]}},
        {"k": {13: [("k", "R13")], 20: [("k", "R20")]}},
    )
    advance(h, 15)
    assert buffers(h) == ({"k": {20: [("k", "L20")]}}, {"k": {20: [("k", "R20")]}})
    advance(h, 22)
    assert buffers(h) == ({"k": {20: [("k", "L20")]}}, {})
    advance(h, 23)
    assert buffers(h) == ({}, {})
    assert join.timer_service.num_event_time_timers() == 0


async def test_a_checkpoint_whose_timers_have_no_side_restores_at_another_parallelism() -> None:
    old = checkpoint_without_timer_sides()
    for table in old["keyed"]["tables"].values():  # a second key, to split between subtasks
        table["j"] = {ts: [("j", *v[0][1:])] for ts, v in table["k"].items()}
    old["timers"]["event"] += [(t, "j") for t, _ in old["timers"]["event"]]
    parts = _redistribute([old], 2, 128, "join", "join")
    harnesses = [await harness(-2, 3).open() for _ in parts]
    joins: list[Any] = [h.operator for h in harnesses]
    for join, part in zip(joins, parts, strict=True):
        join.load_state_dict(part)
    # the keys land on different subtasks, with their own timers
    assert [len(buffers(h)[0]) for h in harnesses] == [1, 1]
    assert [join.timer_service.num_event_time_timers() for join in joins] == [4, 4]

    def advance_all(watermark: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
        left: dict[Any, Any] = {}
        right: dict[Any, Any] = {}
        for h in harnesses:
            advance(h, watermark)
            left |= buffers(h)[0]
            right |= buffers(h)[1]
        return left, right

    assert advance_all(13) == (
        {key: {12: [(key, "L12")], 20: [(key, "L20")]} for key in "jk"},
        {key: {20: [(key, "R20")]} for key in "jk"},
    )
    assert advance_all(23) == ({}, {})
    assert [join.timer_service.num_event_time_timers() for join in joins] == [0, 0]
