"""The WindowOperator through the harness: exact results against a brute-force reference.

Property tests feed random out-of-order records and watermarks to the operator and to the
model in ``window_reference`` and compare what they emit between consecutive watermarks.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from operators import WindowOperator
from operators.window_contents import (
    AggregateContents,
    ListContents,
    ReduceContents,
    WindowContents,
    internal_window_function,
)
from streamrt import (
    AggregateFunction,
    AllWindowFunction,
    ContinuousEventTimeTrigger,
    CountTrigger,
    EventTimeSessionWindows,
    EventTimeTrigger,
    GlobalWindow,
    GlobalWindows,
    GraphError,
    OutputTag,
    ProcessingTimeSessionWindows,
    ProcessWindowFunction,
    RecordError,
    SlidingEventTimeWindows,
    StateTtlConfig,
    TimeWindow,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
    ValueStateDescriptor,
    WindowFunction,
)
from streamrt.runtime.elements import MAX_WATERMARK, StreamRecord, Watermark
from streamrt.testing import OperatorHarness
from streamrt.windowing.assigners import WindowAssigner
from streamrt.windowing.evictors import CountEvictor
from streamrt.windowing.triggers import PurgingTrigger, Trigger
from tests.unit.operators.window_reference import Event, Reference

LATE = OutputTag[Any]("late")


def run_now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (the operator's open/close) without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    msg = "the coroutine suspended"
    raise AssertionError(msg)


class CountAndSum(AggregateFunction[tuple[str, int], tuple[int, int], tuple[int, int]]):
    def create_accumulator(self) -> tuple[int, int]:
        return (0, 0)

    def add(self, value: tuple[str, int], accumulator: tuple[int, int]) -> tuple[int, int]:
        return (accumulator[0] + 1, accumulator[1] + value[1])

    def get_result(self, accumulator: tuple[int, int]) -> tuple[int, int]:
        return accumulator

    def merge(self, acc_a: tuple[int, int], acc_b: tuple[int, int]) -> tuple[int, int]:
        return (acc_a[0] + acc_b[0], acc_a[1] + acc_b[1])


class WithWindow(ProcessWindowFunction[Any, Any, str, TimeWindow]):
    """PyFlink's form: returns the results (key, start, end, the one aggregate)."""

    def process(self, key: str, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        window = context.window()
        return [(key, window.start, window.end, *elements)]


class AllValues(ProcessWindowFunction[Any, Any, str, TimeWindow]):
    """PyFlink's form, yielding: every value of the window, sorted."""

    def process(self, key: str, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        window = context.window()
        yield (key, window.start, window.end, sorted(v for _, v in elements))


# the operator under test, per function kind, and what the reference expects of each
FUNCTIONS: dict[str, tuple[Any, Any]] = {
    "reduce": (
        lambda: (ReduceContents(lambda a, b: (a[0], a[1] + b[1])), None),
        lambda key, start, end, values: (key, sum(values)),
    ),
    "aggregate+window": (
        lambda: (AggregateContents(CountAndSum()), WithWindow()),
        lambda key, start, end, values: (key, start, end, (len(values), sum(values))),
    ),
    "process": (
        lambda: (ListContents(), AllValues()),
        lambda key, start, end, values: (key, start, end, values),
    ),
}


def window_harness(
    assigner: WindowAssigner,
    contents: WindowContents,
    function: Any = None,
    **options: Any,
) -> OperatorHarness[Any]:
    operator: WindowOperator[Any, Any] = WindowOperator(
        assigner,
        contents,
        window_function=None if function is None else internal_window_function(function),
        function=function,
        **options,
    )
    harness: OperatorHarness[Any] = OperatorHarness(operator, key_selector=lambda v: v[0])
    run_now(harness.open())
    return harness


def feed(harness: OperatorHarness[Any], events: Iterable[Event]) -> None:
    for event in events:
        if event[0] == "rec":
            harness.process_element((event[1], event[2]), event[3])
        else:
            harness.process_watermark(event[1])
    harness.process_watermark(MAX_WATERMARK)


def segments(harness: OperatorHarness[Any]) -> list[list[tuple[Any, int | None]]]:
    """Main-output (value, timestamp) pairs between watermarks, each segment sorted."""
    cut: list[list[tuple[Any, int | None]]] = [[]]
    for element in harness.emitted:
        if isinstance(element, Watermark):
            cut[-1].sort(key=repr)
            cut.append([])
        elif isinstance(element, StreamRecord):
            cut[-1].append((element.value, element.timestamp))
    return cut


def operator_of(harness: OperatorHarness[Any]) -> WindowOperator[Any, Any]:
    assert isinstance(harness.operator, WindowOperator)
    return harness.operator


def sides(harness: OperatorHarness[Any]) -> list[tuple[OutputTag[Any], StreamRecord[Any]]]:
    return [e for e in harness.emitted if isinstance(e, tuple)]


def assert_nothing_left(operator: WindowOperator[Any, Any]) -> None:
    """After the final watermark no window can fire: no state, no timers remain."""
    backend = operator.state_backend
    assert backend is not None
    assert {n: t for n, t in backend.snapshot()["tables"].items() if t} == {}
    assert operator.timers.num_event_time_timers() == 0
    assert operator.timers.num_processing_time_timers() == 0


@st.composite
def event_streams(draw: st.DrawFn) -> list[Event]:
    """Records of keys a-c with timestamps 0..80, out of order, between rising watermarks."""
    events: list[Event] = []
    watermark = -1
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.integers(0, 4)) == 0:
            watermark += draw(st.integers(0, 12))
            events.append(("wm", watermark))
        else:
            key = draw(st.sampled_from("abc"))
            events.append(("rec", key, draw(st.integers(0, 9)), draw(st.integers(0, 80))))
    return events


def check_against_reference(
    events: list[Event],
    assigner: WindowAssigner,
    function_kind: str,
    lateness: int,
    reference: Reference,
    *,
    side_output: bool,
    generic: bool = False,
) -> None:
    make, result = FUNCTIONS[function_kind]
    contents, function = make()
    options: dict[str, Any] = {"allowed_lateness": lateness}
    if side_output:
        options["late_data_tag"] = LATE
    if generic:  # the trigger-calling path instead of the inlined default one
        options["trigger"] = SameAsEventTimeTrigger()
    harness = window_harness(assigner, contents, function, **options)
    feed(harness, events)
    reference.result = result
    reference.run(events)
    assert reference.segments == segments(harness)
    late = [(k, v, ts) for k, v, ts in reference.late]
    dropped = operator_of(harness).metrics.late_records_dropped.count
    if side_output:
        got = [(r.value[0], r.value[1], r.timestamp) for tag, r in sides(harness)]
        assert late == got
        assert dropped == 0
    else:
        assert dropped == len(late)
    assert_nothing_left(operator_of(harness))


class SameAsEventTimeTrigger(EventTimeTrigger):
    """``EventTimeTrigger`` under another type: the operator calls it like any trigger."""


LATENESS = st.one_of(st.just(0), st.integers(1, 20))
KINDS = st.sampled_from(sorted(FUNCTIONS))
PROPERTY = settings(max_examples=120, deadline=None)


@pytest.mark.slow
@PROPERTY
@given(
    events=event_streams(),
    size=st.integers(1, 15),
    offset_seed=st.integers(0, 100),
    kind=KINDS,
    lateness=LATENESS,
    side_output=st.booleans(),
    generic=st.booleans(),
)
def test_tumbling_windows_equal_the_reference(
    events: list[Event],
    size: int,
    offset_seed: int,
    kind: str,
    lateness: int,
    side_output: bool,
    generic: bool,
) -> None:
    offset = offset_seed % size
    reference = Reference(result=None, lateness=lateness, size=size, slide=size, offset=offset)  # type: ignore[arg-type]
    check_against_reference(
        events,
        TumblingEventTimeWindows.of(size, offset),
        kind,
        lateness,
        reference,
        side_output=side_output,
        generic=generic,
    )


@pytest.mark.slow
@PROPERTY
@given(
    events=event_streams(),
    size=st.integers(1, 20),
    slide=st.integers(1, 12),
    kind=KINDS,
    lateness=LATENESS,
    side_output=st.booleans(),
    generic=st.booleans(),
)
def test_sliding_windows_equal_the_reference(
    events: list[Event],
    size: int,
    slide: int,
    kind: str,
    lateness: int,
    side_output: bool,
    generic: bool,
) -> None:
    reference = Reference(result=None, lateness=lateness, size=size, slide=slide)  # type: ignore[arg-type]
    check_against_reference(
        events,
        SlidingEventTimeWindows.of(size, slide),
        kind,
        lateness,
        reference,
        side_output=side_output,
        generic=generic,
    )


@pytest.mark.slow
@PROPERTY
@given(
    events=event_streams(),
    gap=st.integers(1, 15),
    kind=KINDS,
    lateness=LATENESS,
    side_output=st.booleans(),
)
def test_session_windows_equal_the_reference(
    events: list[Event], gap: int, kind: str, lateness: int, side_output: bool
) -> None:
    reference = Reference(result=None, lateness=lateness, gap=gap)  # type: ignore[arg-type]
    check_against_reference(
        events,
        EventTimeSessionWindows.with_gap(gap),
        kind,
        lateness,
        reference,
        side_output=side_output,
    )


@pytest.mark.slow
@PROPERTY
@given(
    values=st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 9)), max_size=40),
    size=st.integers(1, 6),
    slide=st.one_of(st.none(), st.integers(1, 6)),
)
def test_count_windows_equal_the_reference(
    values: list[tuple[str, int]], size: int, slide: int | None
) -> None:
    if slide is None:
        trigger: Trigger = PurgingTrigger.of(CountTrigger.of(size))
        evictor = None
    else:
        trigger, evictor = CountTrigger.of(slide), CountEvictor.of(size)
    harness = window_harness(
        GlobalWindows.create(),
        ReduceContents(lambda a, b: (a[0], a[1] + b[1])),
        trigger=trigger,
        evictor=evictor,
    )
    for value in values:
        harness.process_element(value)
    expected = []
    seen: dict[str, list[int]] = {}
    for key, number in values:
        mine = seen.setdefault(key, [])
        mine.append(number)
        if len(mine) % (slide or size) == 0:
            expected.append(((key, sum(mine[-size:])), MAX_WATERMARK))
    got = [(r.value, r.timestamp) for r in harness.emitted if isinstance(r, StreamRecord)]
    assert expected == got


# -- exact cases ---------------------------------------------------------------------------------
def test_a_tumbling_window_fires_when_the_watermark_passes_its_end() -> None:
    harness = window_harness(
        TumblingEventTimeWindows.of(10), ReduceContents(lambda a, b: (a[0], a[1] + b[1]))
    )
    harness.process_element(("a", 1), 3)
    harness.process_element(("a", 2), 9)
    harness.process_element(("a", 4), 10)
    harness.process_watermark(8)
    harness.process_watermark(9)
    harness.process_watermark(19)
    assert [
        Watermark(8),
        StreamRecord(("a", 3), 9),
        Watermark(9),
        StreamRecord(("a", 4), 19),
        Watermark(19),
    ] == harness.emitted


def test_late_records_within_the_lateness_fire_again_and_later_ones_are_counted() -> None:
    harness = window_harness(
        TumblingEventTimeWindows.of(10),
        ReduceContents(lambda a, b: (a[0], a[1] + b[1])),
        allowed_lateness=5,
    )
    harness.process_element(("a", 1), 1)
    harness.process_watermark(12)  # fires [0, 10)
    harness.process_element(("a", 2), 2)  # late, within lateness: fires again, updated
    harness.process_watermark(14)  # cleanup at 9 + 5 = 14
    harness.process_element(("a", 4), 3)  # too late: dropped and counted
    assert harness.values() == [("a", 1), ("a", 3)]
    assert operator_of(harness).metrics.late_records_dropped.count == 1
    assert_nothing_left(operator_of(harness))


def test_too_late_records_go_to_the_side_output_with_their_timestamp() -> None:
    harness = window_harness(
        TumblingEventTimeWindows.of(10),
        ReduceContents(lambda a, b: a),
        late_data_tag=LATE,
    )
    harness.process_watermark(20)
    harness.process_element(("a", 7), 5)
    assert harness.side_values(LATE) == [("a", 7)]
    assert harness.emitted[-1] == (LATE, StreamRecord(("a", 7), 5))
    assert operator_of(harness).metrics.late_records_dropped.count == 0


def test_sessions_merge_and_fire_once_with_all_their_elements() -> None:
    harness = window_harness(EventTimeSessionWindows.with_gap(5), ListContents(), AllValues())
    for value, ts in [(1, 0), (2, 10), (3, 5)]:  # 3 at 5 bridges [0, 5) and [10, 15)
        harness.process_element(("a", value), ts)
    harness.process_element(("b", 9), 100)
    harness.process_watermark(50)
    assert harness.values() == [("a", 0, 15, [1, 2, 3])]
    harness.process_watermark(MAX_WATERMARK)
    assert harness.values()[1:] == [("b", 100, 105, [9])]
    assert_nothing_left(operator_of(harness))


def test_dynamic_session_gaps_come_from_the_element() -> None:
    assigner = EventTimeSessionWindows.with_dynamic_gap(lambda v: v[1])
    harness = window_harness(assigner, ListContents(), AllValues())
    harness.process_element(("a", 3), 0)  # [0, 3)
    harness.process_element(("a", 10), 3)  # [3, 13): touches, merges
    harness.process_watermark(MAX_WATERMARK)
    assert harness.values() == [("a", 0, 13, [3, 10])]
    with pytest.raises(RecordError, match="gap extractor must return a positive int; got 0"):
        harness.process_element(("a", 0), 1)


def test_a_record_without_a_timestamp_names_the_assigner() -> None:
    harness = window_harness(TumblingEventTimeWindows.of(10), ReduceContents(lambda a, b: a))
    with pytest.raises(RecordError, match=r"TumblingEventTimeWindows.of\(10, 0\) needs event time"):
        harness.process_element(("a", 1))


class PerWindowAndGlobalState(ProcessWindowFunction[Any, Any, str, TimeWindow]):
    """Collector form: counts firings per window and per key, in state."""

    def __init__(self) -> None:
        self.firings = ValueStateDescriptor("firings")
        self.total = ValueStateDescriptor("total")
        self.cleared: list[Any] = []

    def process(  # type: ignore[override]  # the collector form
        self, key: str, context: Any, elements: Iterable[Any], out: Any
    ) -> None:
        firings = context.window_state().get_state(self.firings)
        firings.update((firings.value() or 0) + 1)
        total = context.global_state().get_state(self.total)
        total.update((total.value() or 0) + 1)
        out.collect((key, context.window().start, firings.value(), total.value()))
        context.output(LATE, context.current_watermark())

    def clear(self, context: Any) -> None:
        self.cleared.append(context.window())


def test_process_window_function_state_per_window_and_per_key() -> None:
    function = PerWindowAndGlobalState()
    harness = window_harness(
        TumblingEventTimeWindows.of(10), ListContents(), function, allowed_lateness=100
    )
    harness.process_element(("a", 1), 1)
    harness.process_element(("a", 1), 11)
    harness.process_watermark(25)  # fires [0, 10) and [10, 20)
    harness.process_element(("a", 1), 2)  # late firing of [0, 10)
    assert harness.values() == [("a", 0, 1, 1), ("a", 10, 1, 2), ("a", 0, 2, 3)]
    assert harness.side_values(LATE) == [25, 25, 25]
    harness.process_watermark(MAX_WATERMARK)
    assert function.cleared == [TimeWindow(0, 10), TimeWindow(10, 20)]
    backend = operator_of(harness).state_backend
    assert backend is not None
    # the per-window state is gone with the windows; the per-key state stays, as in Flink
    assert {n: t for n, t in backend.snapshot()["tables"].items() if t} == {
        "window-global/total": {"a": {None: 3}}
    }


def test_window_state_is_refused_for_merging_windows() -> None:
    harness = window_harness(
        EventTimeSessionWindows.with_gap(5), ListContents(), PerWindowAndGlobalState()
    )
    harness.process_element(("a", 1), 1)
    with pytest.raises(GraphError, match="window_state\\(\\) is not supported for merging"):
        harness.process_watermark(MAX_WATERMARK)


def test_state_round_trips_mid_window() -> None:
    def make() -> OperatorHarness[Any]:
        return window_harness(
            SlidingEventTimeWindows.of(10, 5), ReduceContents(lambda a, b: (a[0], a[1] + b[1]))
        )

    first = make()
    first.process_element(("a", 1), 7)
    first.process_element(("b", 2), 8)
    state = first.operator.state_dict()
    assert sorted(state["timers"]["event"], key=repr) == [
        (14, "a", TimeWindow(5, 15)),
        (14, "b", TimeWindow(5, 15)),
        (9, "a", TimeWindow(0, 10)),
        (9, "b", TimeWindow(0, 10)),
    ]
    assert state["keyed"]["tables"]["window-contents"] == {
        "a": {TimeWindow(5, 15): ("a", 1), TimeWindow(0, 10): ("a", 1)},
        "b": {TimeWindow(5, 15): ("b", 2), TimeWindow(0, 10): ("b", 2)},
    }
    operator: WindowOperator[Any, Any] = WindowOperator(
        SlidingEventTimeWindows.of(10, 5), ReduceContents(lambda a, b: (a[0], a[1] + b[1]))
    )
    restored: OperatorHarness[Any] = OperatorHarness(operator, key_selector=lambda v: v[0])
    operator.load_state_dict(state)
    run_now(restored.open())
    restored.process_element(("a", 10), 12)
    restored.process_watermark(MAX_WATERMARK)
    assert restored.values() == [("a", 1), ("b", 2), ("a", 11), ("b", 2), ("a", 10)]
    assert_nothing_left(operator)


def test_a_trigger_that_cannot_merge_is_refused_for_sessions() -> None:
    class Plain(CountTrigger):
        def can_merge(self) -> bool:
            return False

    with pytest.raises(GraphError, match="cannot be used with merging windows"):
        WindowOperator(EventTimeSessionWindows.with_gap(5), ListContents(), trigger=Plain(2))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TumblingEventTimeWindows.of(0), "size must be a positive int of milliseconds"),
        (lambda: TumblingEventTimeWindows.of(10, 10), r"\|offset\| < size \(10\); got 10"),
        (lambda: SlidingEventTimeWindows.of(10, 0), "slide must be a positive int"),
        (lambda: SlidingEventTimeWindows.of(10, 5, -5), r"\|offset\| < slide \(5\)"),
        (lambda: EventTimeSessionWindows.with_gap(-1), "gap must be a positive int"),
        (lambda: EventTimeSessionWindows.with_dynamic_gap(3), "needs a callable"),  # type: ignore[arg-type]
        (lambda: CountTrigger.of(0), "count must be a positive int"),
        (lambda: CountEvictor.of(1.5), "max_count must be a positive int"),  # type: ignore[arg-type]
        (lambda: PurgingTrigger.of("x"), "PurgingTrigger.of needs a Trigger"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_are_named(make: Any, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        make()


def test_windows_of_an_assigner() -> None:
    assert SlidingEventTimeWindows.of(10, 5).assign_windows(None, 12, None) == [  # type: ignore[arg-type]
        TimeWindow(10, 20),
        TimeWindow(5, 15),
    ]
    assert TumblingEventTimeWindows.of(10, 3).assign_windows(None, -1, None) == (  # type: ignore[arg-type]
        TimeWindow(-7, 3),
    )
    assert TimeWindow(0, 10).max_timestamp() == 9


# -- processing time, triggers --------------------------------------------------------------------
def test_processing_time_windows_fire_when_the_clock_passes_their_end() -> None:
    harness = window_harness(
        TumblingProcessingTimeWindows.of(100), ReduceContents(lambda a, b: (a[0], a[1] + b[1]))
    )
    harness.advance_processing_time(1_010)
    harness.process_element(("a", 1))  # no event time needed
    harness.advance_processing_time(1_050)
    harness.process_element(("a", 2))
    harness.process_element(("b", 5))
    harness.advance_processing_time(1_098)
    assert harness.values() == []
    harness.advance_processing_time(1_099)
    assert [StreamRecord(("a", 3), 1_099), StreamRecord(("b", 5), 1_099)] == harness.emitted
    harness.advance_processing_time(1_150)
    harness.process_element(("a", 7))
    harness.advance_processing_time(1_200)
    assert harness.values()[2:] == [("a", 7)]
    assert_nothing_left(operator_of(harness))


def test_processing_time_sessions_merge_on_the_clock() -> None:
    harness = window_harness(ProcessingTimeSessionWindows.with_gap(10), ListContents(), AllValues())
    harness.process_element(("a", 1))  # [0, 10)
    harness.advance_processing_time(8)
    harness.process_element(("a", 2))  # [8, 18): merged into [0, 18)
    harness.advance_processing_time(16)
    assert harness.values() == []
    harness.advance_processing_time(17)
    assert harness.values() == [("a", 0, 18, [1, 2])]
    assert_nothing_left(operator_of(harness))


def test_a_continuous_trigger_fires_early_results_and_the_final_one() -> None:
    harness = window_harness(
        TumblingEventTimeWindows.of(100),
        ReduceContents(lambda a, b: (a[0], a[1] + b[1])),
        trigger=ContinuousEventTimeTrigger.of(30),
    )
    harness.process_element(("a", 1), 5)  # next fire at 30
    harness.process_element(("a", 2), 40)
    harness.process_watermark(30)
    harness.process_element(("a", 4), 70)
    harness.process_watermark(65)  # fire at 60 is due
    harness.process_watermark(99)  # fire at 90, and the window's end at 99
    assert [
        StreamRecord(("a", 3), 99),
        Watermark(30),
        StreamRecord(("a", 7), 99),  # ("a", 4) at 70 came before the watermark 65
        Watermark(65),
        StreamRecord(("a", 7), 99),
        StreamRecord(("a", 7), 99),
        Watermark(99),
    ] == harness.emitted
    assert_nothing_left(operator_of(harness))


def test_a_purging_count_trigger_on_event_time_windows() -> None:
    harness = window_harness(
        TumblingEventTimeWindows.of(100),
        ReduceContents(lambda a, b: (a[0], a[1] + b[1])),
        trigger=PurgingTrigger.of(CountTrigger.of(2)),
    )
    for value in (1, 2, 3):
        harness.process_element(("a", value), 10)
    assert harness.values() == [("a", 3)]  # 1 + 2, then purged; 3 waits for another
    harness.process_watermark(MAX_WATERMARK)  # a count trigger does not fire on time
    assert harness.values() == [("a", 3)]
    assert_nothing_left(operator_of(harness))  # the cleanup timer still removes the window


def test_a_count_trigger_on_sessions_merges_its_counts() -> None:
    harness = window_harness(
        EventTimeSessionWindows.with_gap(15),
        ListContents(),
        AllValues(),
        trigger=CountTrigger.of(3),
    )
    harness.process_element(("a", 1), 0)
    harness.process_element(("a", 2), 30)
    harness.process_element(("a", 3), 15)  # bridges: one session of 3 elements, count 1 + 1 + 1
    assert harness.values() == [("a", 0, 45, [1, 2, 3])]


class Out:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def collect(self, value: Any) -> None:
        self.values.append(value)

    def collect_side(self, tag: OutputTag[Any], value: Any) -> None:
        self.values.append((tag.tag_id, value))


class Context:
    def window(self) -> TimeWindow:
        return TimeWindow(0, 10)


class PyFlinkApply(WindowFunction[int, Any, str, TimeWindow]):
    def apply(self, key: str, window: TimeWindow, inputs: Iterable[int]) -> Iterable[Any]:
        yield (key, window.end, sum(inputs))
        yield (LATE, "side")


class CollectorApply(WindowFunction[int, Any, str, TimeWindow]):
    def apply(  # type: ignore[override]  # the collector form
        self, key: str, window: TimeWindow, inputs: Iterable[int], out: Any
    ) -> None:
        out.collect((key, window.end, sum(inputs)))


class AllApply(AllWindowFunction[int, Any, TimeWindow]):
    def apply(self, window: TimeWindow, inputs: Iterable[int]) -> Iterable[Any]:
        return [(window.start, list(inputs))]


@pytest.mark.parametrize(
    ("function", "keyed", "expected"),
    [
        (PyFlinkApply(), True, [("k", 10, 3), ("late", "side")]),
        (CollectorApply(), True, [("k", 10, 3)]),
        (AllApply(), False, [(0, [1, 2])]),
        (lambda key, ctx, elements: [(key, *elements)], True, [("k", 1, 2)]),
        (lambda ctx, elements, out: out.collect(len(list(elements))), False, [2]),
    ],
)
def test_window_function_forms_are_decided_once(function: Any, keyed: bool, expected: Any) -> None:
    call = internal_window_function(function, keyed=keyed)
    out = Out()
    call("k", Context(), [1, 2], out)
    assert expected == out.values


def test_a_keyed_window_function_is_refused_for_window_all() -> None:
    with pytest.raises(
        GraphError, match="must be a ProcessAllWindowFunction, an AllWindowFunction"
    ):
        internal_window_function(PyFlinkApply(), keyed=False)


def test_a_failing_function_is_skipped_and_counted_under_the_skip_policy() -> None:
    def add(a: Any, b: Any) -> Any:
        if b[1] < 0:
            msg = "negative"
            raise ValueError(msg)
        return (a[0], a[1] + b[1])

    operator: WindowOperator[Any, Any] = WindowOperator(
        TumblingEventTimeWindows.of(10), ReduceContents(add)
    )
    harness: OperatorHarness[Any] = OperatorHarness(
        operator, key_selector=lambda v: v[0], error_policy="skip"
    )
    run_now(harness.open())
    for value in (1, -5, 2):
        harness.process_element(("a", value), 3)
    harness.process_watermark(MAX_WATERMARK)
    assert harness.values() == [("a", 3)]
    assert operator.metrics.errors.count == 1


def test_count_windows_with_an_evictor_aggregate_the_kept_elements() -> None:
    harness = window_harness(
        GlobalWindows.create(),
        AggregateContents(CountAndSum()),
        trigger=CountTrigger.of(2),
        evictor=CountEvictor.of(3),
    )
    for value in range(1, 7):
        harness.process_element(("a", value))
    # every 2nd element: (count, sum) of the last 3
    assert harness.values() == [(2, 1 + 2), (3, 2 + 3 + 4), (3, 4 + 5 + 6)]
    backend = operator_of(harness).state_backend
    assert backend is not None
    assert backend.snapshot()["tables"]["window-contents"] == {
        "a": {GlobalWindow(): [("a", 4), ("a", 5), ("a", 6)]}  # evicted from the state too
    }


def test_a_process_function_after_an_evictor_gets_the_kept_elements_flat() -> None:
    class Kept(ProcessWindowFunction[Any, Any, str, Any]):
        def process(self, key: str, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
            yield [value for _, value in elements]

    harness = window_harness(
        GlobalWindows.create(),
        ListContents(),
        Kept(),
        trigger=CountTrigger.of(2),
        evictor=CountEvictor.of(3),
    )
    for value in range(1, 7):
        harness.process_element(("a", value))
    # the elements themselves, not the list of them wrapped once more
    assert harness.values() == [[1, 2], [2, 3, 4], [4, 5, 6]]


def test_a_continuous_trigger_on_sessions_keeps_its_next_fire_through_merges() -> None:
    harness = window_harness(
        EventTimeSessionWindows.with_gap(50),
        ReduceContents(lambda a, b: (a[0], a[1] + b[1])),
        trigger=ContinuousEventTimeTrigger.of(20),
    )
    harness.process_element(("a", 1), 5)  # [5, 55), next fire 20
    harness.process_element(("a", 2), 70)  # [70, 120), next fire 80
    harness.process_element(("a", 4), 40)  # merges all: [5, 120), next fire min(20, 80)
    harness.process_watermark(20)
    harness.process_watermark(119)
    assert [
        StreamRecord(("a", 7), 119),
        Watermark(20),
        StreamRecord(("a", 7), 119),  # the next fire, 40
        StreamRecord(("a", 7), 119),  # 60
        StreamRecord(("a", 7), 119),  # 80
        StreamRecord(("a", 7), 119),  # 100
        StreamRecord(("a", 7), 119),  # the session's end
        Watermark(119),
    ] == harness.emitted
    assert_nothing_left(operator_of(harness))


def test_a_purged_window_still_reaches_its_trigger_on_a_timer() -> None:
    # as Flink: the trigger runs for a timer even when a purge left the window empty, so a
    # continuous trigger keeps chaining its early firings
    harness = window_harness(
        TumblingEventTimeWindows.of(1000),
        ReduceContents(lambda a, b: (a[0], a[1] + b[1])),
        trigger=PurgingTrigger.of(ContinuousEventTimeTrigger.of(100)),
    )
    harness.process_element(("a", 1), 10)
    harness.process_watermark(150)  # fires at 100, then purges
    harness.process_watermark(250)  # the timer at 200 finds no contents: next fire at 300
    harness.process_element(("a", 5), 260)
    harness.process_watermark(350)
    assert [
        StreamRecord(("a", 1), 999),
        Watermark(150),
        Watermark(250),
        StreamRecord(("a", 5), 999),
        Watermark(350),
    ] == harness.emitted
    harness.process_watermark(MAX_WATERMARK)
    assert_nothing_left(operator_of(harness))


def test_a_purged_session_still_reaches_its_trigger_on_a_timer() -> None:
    harness = window_harness(
        EventTimeSessionWindows.with_gap(500),
        ReduceContents(lambda a, b: (a[0], a[1] + b[1])),
        trigger=PurgingTrigger.of(ContinuousEventTimeTrigger.of(100)),
    )
    harness.process_element(("a", 1), 10)  # the session [10, 510)
    harness.process_watermark(150)  # fires at 100, then purges
    harness.process_watermark(250)  # the timer at 200 finds no contents: next fire at 300
    harness.process_element(("a", 5), 10)  # the same session, nothing to merge
    harness.process_watermark(350)
    assert [
        StreamRecord(("a", 1), 509),
        Watermark(150),
        Watermark(250),
        StreamRecord(("a", 5), 509),
        Watermark(350),
    ] == harness.emitted
    harness.process_watermark(MAX_WATERMARK)
    assert_nothing_left(operator_of(harness))


class KeepsElements(ProcessWindowFunction[Any, Any, str, TimeWindow]):
    """Keeps what each firing was given, and sums it."""

    def __init__(self) -> None:
        self.seen: list[Iterable[Any]] = []

    def process(self, key: str, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        self.seen.append(elements)
        yield (key, sum(v for _, v in elements))


def test_a_window_function_gets_a_read_only_copy_of_the_contents() -> None:
    function = KeepsElements()
    harness = window_harness(
        TumblingEventTimeWindows.of(10), ListContents(), function, allowed_lateness=100
    )
    harness.process_element(("a", 1), 1)
    harness.process_element(("a", 5), 2)
    harness.process_watermark(20)
    harness.process_element(("a", 3), 3)  # a late firing adds to the stored contents
    assert harness.values() == [("a", 6), ("a", 9)]
    # what the first firing was given did not change with the window
    assert function.seen == [(("a", 1), ("a", 5)), (("a", 1), ("a", 5), ("a", 3))]


TTL_STATE = ValueStateDescriptor("seen", int)
TTL_STATE.enable_time_to_live(StateTtlConfig.new_builder(1000).build())


class TtlInWindowState(ProcessWindowFunction[Any, Any, str, TimeWindow]):
    def __init__(self, per_window: bool) -> None:
        self.per_window = per_window

    def process(self, key: str, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        store = context.window_state() if self.per_window else context.global_state()
        store.get_state(TTL_STATE).update(1)
        yield key


class TtlInTriggerState(EventTimeTrigger):
    def on_element(self, element: Any, timestamp: int | None, window: Any, ctx: Any) -> Any:
        ctx.get_partitioned_state(TTL_STATE).update(1)
        return super().on_element(element, timestamp, window, ctx)


@pytest.mark.parametrize(
    ("function", "trigger", "table"),
    [
        (TtlInWindowState(per_window=False), None, "window-global/seen"),
        (TtlInWindowState(per_window=True), None, "window-state/seen"),
        (None, TtlInTriggerState(), "window-trigger/seen"),
    ],
)
def test_a_ttl_on_window_or_trigger_state_is_refused(
    function: Any, trigger: Any, table: str
) -> None:
    # these views keep plain values: a TTL would be silently ignored, so it is refused
    harness = window_harness(
        TumblingEventTimeWindows.of(10),
        ReduceContents(lambda a, b: a),
        function,
        trigger=trigger,
    )
    # the trigger asks for its state on the element, the function when the window fires
    with pytest.raises(GraphError, match=f"state 'seen' has a time-to-live.*\\({table}\\)"):
        feed(harness, [("rec", "a", 1, 1)])
