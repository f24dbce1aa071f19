"""State TTL with an injected clock: update types, visibility, per element/entry, snapshots."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from operators.process import ProcessOperator
from streamrt import (
    AggregateFunction,
    AggregatingStateDescriptor,
    GraphError,
    KeyedProcessFunction,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    RuntimeContext,
    StateTtlConfig,
    Time,
    ValueState,
    ValueStateDescriptor,
)
from streamrt.runtime.state import KeyedStateBackend
from streamrt.runtime.ttl_state import TtlSettings, TtlValueState
from streamrt.testing import OperatorHarness

UpdateType = StateTtlConfig.UpdateType
Visibility = StateTtlConfig.StateVisibility


def ttl(
    ms: int = 1_000, *, on_read: bool = False, return_expired: bool = False, snapshot: bool = False
) -> StateTtlConfig:
    builder = StateTtlConfig.new_builder(Time.milliseconds(ms)).set_update_type(
        UpdateType.OnReadAndWrite if on_read else UpdateType.OnCreateAndWrite
    )
    builder.set_state_visibility(
        Visibility.ReturnExpiredIfNotCleanedUp if return_expired else Visibility.NeverReturnExpired
    )
    if snapshot:
        builder.cleanup_full_snapshot()
    return builder.build()


class Count(AggregateFunction[int, int, int]):
    def create_accumulator(self) -> int:
        return 0

    def add(self, value: int, accumulator: int) -> int:
        return accumulator + 1

    def get_result(self, accumulator: int) -> int:
        return accumulator


class Holder(KeyedProcessFunction[Any, Any]):
    """Holds one state of each kind, all with the same TTL config; tests call them directly."""

    def __init__(self, config: StateTtlConfig | None) -> None:
        self.config = config

    def open(self, runtime_context: RuntimeContext) -> None:
        descriptors: list[Any] = [
            ValueStateDescriptor("value", None),
            ListStateDescriptor("list", None),
            MapStateDescriptor("map", None, None),
            ReducingStateDescriptor("reducing", lambda a, b: a + b, None),
            AggregatingStateDescriptor("aggregating", Count(), None),
        ]
        if self.config is not None:
            for descriptor in descriptors:
                descriptor.enable_time_to_live(self.config)
        value, items, entries, reducing, aggregating = descriptors
        self.value = runtime_context.get_state(value)
        self.list = runtime_context.get_list_state(items)
        self.map = runtime_context.get_map_state(entries)
        self.reducing = runtime_context.get_reducing_state(reducing)
        self.aggregating = runtime_context.get_aggregating_state(aggregating)

    def process_element(self, value: Any, ctx: Any, out: Any) -> None:
        pass


class Setup:
    """A keyed operator holding TTL states; ``at(ms)`` moves its processing-time clock."""

    def __init__(self, harness: OperatorHarness[Any]) -> None:
        self.harness = harness
        function = harness.operator.user_function  # type: ignore[attr-defined]
        self.states: Holder = function
        backend = harness.operator.state_backend  # type: ignore[attr-defined]
        assert backend is not None
        self.backend: KeyedStateBackend = backend
        self.backend.current_key = "k"

    def at(self, now_ms: int) -> Holder:
        self.harness.advance_processing_time(now_ms)
        return self.states

    def __getattr__(self, name: str) -> Any:  # s.list is s.states.list
        return getattr(self.states, name)

    def tables(self) -> dict[str, Any]:
        tables: dict[str, Any] = self.backend.snapshot()["tables"]
        return tables


async def setup(config: StateTtlConfig | None, state: dict[str, Any] | None = None) -> Setup:
    harness: OperatorHarness[Any] = OperatorHarness(
        ProcessOperator(Holder(config)), key_selector=str
    )
    if state is not None:
        harness.operator.load_state_dict(state)
    return Setup(await harness.open())


async def test_a_value_expires_ttl_ms_after_its_last_write() -> None:
    s = await setup(ttl(1_000))
    s.at(100).value.update("v")
    assert s.at(1_099).value.value() == "v"  # a read does not refresh under OnCreateAndWrite
    assert s.at(1_099).value.value() == "v"
    s.at(600).value.update("w")  # a write does
    assert s.at(1_599).value.value() == "w"
    assert s.at(1_600).value.value() is None
    assert s.tables()["value"] == {}  # cleaned up on that access


async def test_on_read_and_write_reads_refresh_the_timestamp() -> None:
    s = await setup(ttl(1_000, on_read=True))
    s.at(0).value.update(1)
    assert s.at(900).value.value() == 1
    assert s.at(1_899).value.value() == 1
    assert s.tables()["value"] == {"k": (1, 1_899)}
    assert s.at(2_899).value.value() is None


async def test_return_expired_if_not_cleaned_up_returns_it_once() -> None:
    s = await setup(ttl(1_000, return_expired=True))
    s.at(0).value.update(1)
    s.reducing.add(7)
    assert s.at(5_000).value.value() == 1
    assert s.value.value() is None  # that read cleaned it up
    assert s.reducing.get() == 7
    assert s.reducing.get() is None


async def test_list_elements_expire_one_by_one() -> None:
    s = await setup(ttl(1_000))
    s.at(0).list.add("a")
    s.at(400).list.add_all(["b", "c"])
    assert s.at(999).list.get() == ["a", "b", "c"]
    assert s.at(1_000).list.get() == ["b", "c"]
    assert s.tables()["list"] == {"k": [("b", 400), ("c", 400)]}
    s.at(1_200).list.add("d")
    assert s.at(1_400).list.get() == ["d"]
    s.list.update(["x", "y"])
    assert s.at(2_399).list.get() == ["x", "y"]
    assert s.at(2_400).list.get() == []
    assert s.tables()["list"] == {}


async def test_list_reads_refresh_every_element_under_on_read_and_write() -> None:
    s = await setup(ttl(1_000, on_read=True))
    s.at(0).list.add("a")
    s.at(500).list.add("b")
    assert s.at(900).list.get() == ["a", "b"]
    assert s.at(1_899).list.get() == ["a", "b"]
    assert s.at(2_899).list.get() == []


async def test_map_entries_expire_one_by_one() -> None:
    s = await setup(ttl(1_000))
    s.at(0).map.put("a", 1)
    s.at(500).map.put_all({"b": 2, "c": 3})
    assert s.at(1_000).map.get("a", -1) == -1
    assert s.map.contains("b")
    assert "a" not in s.map
    assert list(s.map.items()) == [("b", 2), ("c", 3)]
    s.at(1_200).map["c"] = 30
    assert (list(s.at(1_500).map.keys()), list(s.map.values())) == (["c"], [30])
    assert s.tables()["map"] == {"k": {"c": (30, 1_200)}}
    assert s.at(2_200).map.is_empty()
    assert s.tables()["map"] == {}


async def test_reducing_and_aggregating_state_start_over_after_expiry() -> None:
    s = await setup(ttl(1_000))
    s.at(0).reducing.add(1)
    s.aggregating.add("x")
    s.at(800).reducing.add(2)
    s.aggregating.add("y")
    assert (s.at(1_799).reducing.get(), s.aggregating.get()) == (3, 2)
    assert (s.at(1_800).reducing.get(), s.aggregating.get()) == (None, None)
    s.at(3_000).reducing.add(5)  # an expired value is not folded into, even if still stored
    s.aggregating.add("z")
    s.at(4_500).reducing.add(6)
    s.aggregating.add("w")
    assert (s.reducing.get(), s.aggregating.get()) == (6, 1)


async def test_full_snapshot_cleanup_leaves_expired_values_out_of_checkpoints() -> None:
    s = await setup(ttl(1_000, snapshot=True))
    s.at(0).value.update("old")
    s.list.add("old")
    s.map.put("old", 1)
    s.backend.current_key = "fresh"
    s.at(600).value.update("new")
    s.list.add("new")
    s.map.put("new", 2)
    s.backend.current_key = "k"
    s.list.add("new")
    s.map.put("new", 2)
    s.at(1_000)
    expected = {
        "value": {"fresh": ("new", 600)},
        "list": {"fresh": [("new", 600)], "k": [("new", 600)]},
        "map": {"fresh": {"new": (2, 600)}, "k": {"new": (2, 600)}},
        "reducing": {},
        "aggregating": {},
    }
    assert s.backend.state_dict()["tables"] == expected
    assert s.backend.snapshot()["tables"] == expected
    assert s.backend.keys() == {"k", "fresh"}  # the live state is left alone
    assert s.harness.operator.state_dict()["keyed"]["tables"] == expected


async def test_without_snapshot_cleanup_expired_values_stay_in_checkpoints() -> None:
    s = await setup(ttl(1_000))
    s.at(0).value.update("old")
    s.at(5_000)
    assert s.backend.state_dict()["tables"]["value"] == {"k": ("old", 0)}


async def test_a_restore_keeps_the_timestamps() -> None:
    s = await setup(ttl(1_000, on_read=True))
    s.at(0).value.update("v")
    s.list.add("e")
    s.at(700).map.put("m", 1)
    assert s.at(800).value.value() == "v"  # refreshed to 800
    checkpoint = s.harness.operator.state_dict()

    restored = await setup(ttl(1_000, on_read=True), checkpoint)
    assert restored.at(1_000).list.get() == []  # written at 0: expired
    assert restored.map.get("m") == 1  # written at 700, read now at 1000
    assert restored.at(1_799).value.value() == "v"
    assert restored.at(1_999).map.get("m") == 1
    assert restored.at(2_999).map.get("m") is None


async def test_a_state_with_ttl_cannot_be_restored_without_it() -> None:
    s = await setup(ttl(1_000))
    s.at(0).value.update(1)
    checkpoint = s.harness.operator.state_dict()
    with pytest.raises(GraphError) as info:
        await setup(None, checkpoint)
    assert (
        str(info.value)
        == "state 'value' is a value (with TTL) state; it cannot also be a value state"
    )


async def test_states_without_ttl_are_the_plain_classes() -> None:
    plain = await setup(None)
    assert type(plain.states.value) is ValueState
    disabled = StateTtlConfig.new_builder(Time.seconds(1)).set_update_type(UpdateType.Disabled)
    off = await setup(disabled.build())
    assert type(off.states.value) is ValueState
    assert type((await setup(ttl())).states.value) is TtlValueState
    assert isinstance((await setup(ttl())).states.value, ValueState)


def test_the_builder_speaks_pyflink() -> None:
    config = (
        StateTtlConfig.new_builder(Time.minutes(2))
        .update_ttl_on_read_and_write()
        .return_expired_if_not_cleaned_up()
        .set_ttl_time_characteristic(StateTtlConfig.TtlTimeCharacteristic.ProcessingTime)
        .cleanup_incrementally(10, False)
        .disable_cleanup_in_background()
        .cleanup_full_snapshot()
        .build()
    )
    assert config.ttl_settings() == TtlSettings(
        ttl_ms=120_000, update_on_read=True, return_expired=True, cleanup_in_snapshot=True
    )
    assert config.get_ttl() == Time.minutes(2)
    assert config.is_enabled()
    assert repr(config) == (
        "StateTtlConfig(ttl_ms=120000, update_type=OnReadAndWrite, "
        "state_visibility=ReturnExpiredIfNotCleanedUp, cleanup_in_full_snapshot=True)"
    )
    default = StateTtlConfig.new_builder(datetime.timedelta(seconds=3)).build()
    assert default.ttl_settings() == TtlSettings(ttl_ms=3_000)
    assert StateTtlConfig.new_builder(250).set_ttl(Time.hours(1)).build().ttl_ms == 3_600_000
    assert [Time.seconds(1).to_milliseconds(), Time.days(1).ms] == [1_000, 86_400_000]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: StateTtlConfig.new_builder(0), "a state TTL must be positive; got 0 ms"),
        (
            lambda: StateTtlConfig.new_builder(1.5),  # type: ignore[arg-type]
            "a state TTL is a Time, a timedelta or an int of milliseconds; got 1.5",
        ),
        (
            lambda: StateTtlConfig.new_builder(10).set_update_type("OnReadAndWrite"),  # type: ignore[arg-type]
            "a TTL update type is one of StateTtlConfig.UpdateType.{Disabled, OnCreateAndWrite, "
            "OnReadAndWrite}; got 'OnReadAndWrite'",
        ),
        (
            lambda: StateTtlConfig.new_builder(10).set_state_visibility(UpdateType.Disabled),  # type: ignore[arg-type]
            "a TTL state visibility is one of StateTtlConfig.StateVisibility."
            "{ReturnExpiredIfNotCleanedUp, NeverReturnExpired}; got <UpdateType.Disabled: 0>",
        ),
    ],
)
def test_the_builder_names_bad_arguments(make: Any, message: str) -> None:
    with pytest.raises(GraphError) as info:
        make()
    assert str(info.value) == message


def test_ttl_states_work_on_a_bare_backend() -> None:
    backend = KeyedStateBackend()
    now = [0]
    state: TtlValueState[int] = TtlValueState(backend, "v", TtlSettings(10), lambda: now[0])
    backend.current_key = 1
    state.update(5)
    now[0] = 9
    assert state.value() == 5
    now[0] = 10
    assert state.value() is None
