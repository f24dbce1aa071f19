"""A failure in user code stops the job with an error naming the operator and subtask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streamrt import (
    GraphError,
    OperatorError,
    ProcessFunction,
    RecordError,
    StreamExecutionEnvironment,
)
from streamrt.runtime.status import ExecutionStatus as TaskStatus
from streamrt.testing import FAIL, CollectSink, ListSource


def explode_at(bad: int) -> Callable[[int], int]:
    def fn(v: int) -> int:
        if v == bad:
            raise ValueError(f"cannot handle {v}")
        return v

    return fn


@pytest.mark.parametrize("parallelism", [1, 2])
async def test_chained_operator_failure_names_operator_and_subtask(
    env_factory: Callable[..., StreamExecutionEnvironment], parallelism: int
) -> None:
    env = env_factory(parallelism=parallelism)
    env.from_collection(range(10)).map(str).name("to text").map(int).map(explode_at(7)).name(
        "picky"
    ).sink_to(CollectSink())
    job = env.create_job("failing")
    with pytest.raises(OperatorError) as info:
        await job.run()
    error = info.value
    subtask = 7 % parallelism  # from_collection hands value i to subtask i % p
    assert str(error) == (
        f"operator 'picky' (subtask {subtask + 1}/{parallelism}) failed: "
        "ValueError: cannot handle 7"
    )
    assert (error.operator, error.subtask) == ("picky", subtask)
    assert isinstance(error.__cause__, ValueError)
    assert job.status.value == "failed"
    assert {t.status for t in job.tasks} <= {
        TaskStatus.FAILED,
        TaskStatus.CANCELED,
        TaskStatus.FINISHED,
    }


async def test_head_operator_failure_after_a_channel_is_named(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    env.from_collection(range(10)).key_by(lambda v: v % 2).map(explode_at(4)).name(
        "keyed picky"
    ).sink_to(CollectSink())
    with pytest.raises(
        OperatorError,
        match=r"operator 'keyed picky' \(subtask \d/2\) failed: "
        "ValueError: cannot handle 4",
    ):
        await env.execute_async("keyed failure")


async def test_source_failure_is_named(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory()
    env.from_source(ListSource([1, 2, FAIL, 4]), source_name="flaky").sink_to(CollectSink())
    with pytest.raises(
        OperatorError,
        match=r"operator 'Source: flaky' \(subtask 1/1\) failed: "
        "RuntimeError while reading: FAIL injected at index 2 of list-0",
    ):
        await env.execute_async("source failure")


async def test_process_function_failure_is_named(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    class Broken(ProcessFunction[int, int]):
        def process_element(self, value: int, ctx: Any, out: Any) -> None:
            out.collect(1 // (value - 3))

    env = env_factory()
    env.from_collection(range(5)).process(Broken()).name("divide").sink_to(CollectSink())
    with pytest.raises(OperatorError, match=r"operator 'divide' .* ZeroDivisionError") as info:
        await env.execute_async("process failure")
    assert isinstance(info.value.__cause__, ZeroDivisionError)


async def test_a_key_without_stable_hash_fails_naming_the_emitting_operator(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    class Opaque:
        pass

    env = env_factory(parallelism=2)
    env.from_collection([1, 2]).map(lambda v: v).name("make keys").key_by(lambda v: Opaque()).map(
        str
    ).sink_to(CollectSink())
    with pytest.raises(OperatorError, match=r"operator 'make keys' .*RecordError: key") as info:
        await env.execute_async("bad key")
    assert isinstance(info.value.__cause__, RecordError)


def test_execute_raises_the_same_error_synchronously() -> None:
    env = StreamExecutionEnvironment()
    env.from_collection([1]).map(explode_at(1)).name("boom").sink_to(CollectSink())
    with pytest.raises(OperatorError, match="operator 'boom'"):
        env.execute("sync failure")


def test_flat_map_returning_none_is_a_clear_error() -> None:
    env = StreamExecutionEnvironment()
    env.from_collection([1]).flat_map(lambda v: None).name("forgot").sink_to(CollectSink())  # type: ignore[arg-type,return-value]
    with pytest.raises(OperatorError, match="the flat_map function returned None"):
        env.execute("none")


def test_unknown_function_kinds_are_rejected_at_build_time() -> None:
    env = StreamExecutionEnvironment()
    with pytest.raises(GraphError, match=r"map\(\) needs a MapFunction or a callable; got 42"):
        env.from_collection([1]).map(42)  # type: ignore[arg-type]


def test_unknown_sink_is_rejected() -> None:
    env = StreamExecutionEnvironment()
    with pytest.raises(GraphError, match=r"sink_to\(\) needs a Sink"):
        env.from_collection([1]).sink_to("not a sink")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parallelism": 0}, "parallelism must be an int >= 1; got 0"),
        ({"buffer_timeout_ms": -5}, "buffer_timeout_ms must be -1, 0 or a positive int; got -5"),
        ({"channel_capacity": 0}, "channel_capacity must be an int >= 1; got 0"),
    ],
)
def test_bad_configuration_is_named(kwargs: dict[str, Any], message: str) -> None:
    from streamrt import ConfigError

    with pytest.raises(ConfigError, match=message):
        StreamExecutionEnvironment(**kwargs)
