"""AsyncWaitOperator in a harness: the test decides when each request finishes.

Every request awaits a future the test resolves; results come back only through the harness's
mailbox (``run_mails``), as they would through a task's.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from operators import AsyncWaitOperator
from streamrt import AsyncFunction, GraphError, OperatorError, StreamExecutionEnvironment
from streamrt.async_io import AsyncOptions
from streamrt.runtime.elements import StreamRecord, Watermark
from streamrt.runtime.failed_records import ErrorPolicy
from streamrt.testing import OperatorHarness
from tests.conftest import bounded, wait_until


class Pending:
    """An async function whose calls finish when the test says (``finish``/``fail``)."""

    def __init__(self) -> None:
        self.futures: dict[Any, asyncio.Future[Any]] = {}
        self.started: list[Any] = []
        self.pending = 0
        self.max_pending = 0

    async def __call__(self, value: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.futures[value] = future
        self.started.append(value)
        self.pending += 1
        self.max_pending = max(self.max_pending, self.pending)
        try:
            return await future
        finally:
            self.pending -= 1

    def finish(self, value: Any, result: Any = None) -> None:
        self.futures[value].set_result(value * 10 if result is None else result)

    def fail(self, value: Any, error: Exception) -> None:
        self.futures[value].set_exception(error)


async def harness(
    fn: Pending, *, error_policy: ErrorPolicy = "fail", **options: Any
) -> tuple[OperatorHarness[Any], AsyncWaitOperator[Any, Any]]:
    operator: AsyncWaitOperator[Any, Any] = AsyncWaitOperator(fn, AsyncOptions(**options))
    h: OperatorHarness[Any] = OperatorHarness(operator, error_policy=error_policy)
    await h.open()
    return h, operator


async def started(fn: Pending, count: int) -> None:
    await wait_until(lambda: len(fn.started) == count, what=f"{count} requests started")


async def settled(
    h: OperatorHarness[Any], operator: AsyncWaitOperator[Any, Any], running: int
) -> None:
    """Wait until only ``running`` requests remain, then run the mails (as the task would)."""
    await wait_until(lambda: len(operator._running) == running, what="requests done")
    await h.run_mails()


def emitted(h: OperatorHarness[Any]) -> list[Any]:
    return [
        ("w", e.timestamp) if isinstance(e, Watermark) else (e.value, e.timestamp)
        for e in h.emitted
        if isinstance(e, (Watermark, StreamRecord))
    ]


async def feed_1_2_watermark_3(h: OperatorHarness[Any], fn: Pending) -> None:
    h.process_element(1, 10)
    h.process_element(2, 20)
    h.process_watermark(25)
    h.process_element(3, 30)
    await started(fn, 3)


async def test_ordered_emits_in_input_order_and_watermarks_wait_for_what_precedes_them() -> None:
    fn = Pending()
    h, op = await harness(fn)
    await feed_1_2_watermark_3(h, fn)
    fn.finish(3)
    fn.finish(2)
    await settled(h, op, 1)
    assert emitted(h) == []  # 1 is still pending
    fn.finish(1)
    await settled(h, op, 0)
    assert emitted(h) == [(10, 10), (20, 20), ("w", 25), (30, 30)]


async def test_unordered_emits_as_completed_but_never_across_a_watermark() -> None:
    fn = Pending()
    h, op = await harness(fn, ordered=False)
    await feed_1_2_watermark_3(h, fn)
    fn.finish(3)
    fn.finish(2)
    await settled(h, op, 1)
    assert emitted(h) == [(20, 20)]  # 3 finished too, but it is behind the watermark
    fn.finish(1)
    await settled(h, op, 0)
    assert emitted(h) == [(20, 20), (10, 10), ("w", 25), (30, 30)]


@pytest.mark.parametrize("ordered", [True, False])
async def test_a_watermark_with_nothing_pending_passes_at_once(ordered: bool) -> None:
    h, _ = await harness(Pending(), ordered=ordered)
    h.process_watermark(5)
    assert emitted(h) == [("w", 5)]


async def test_a_full_queue_holds_input_back_until_space_frees() -> None:
    fn = Pending()
    h, op = await harness(fn, capacity=2)
    for v in range(1, 6):
        h.process_element(v, v)
    await started(fn, 2)
    assert (fn.started, op.available) == ([1, 2], False)
    waiting = asyncio.create_task(op.wait_available())
    fn.finish(2)
    fn.finish(1)
    await started(fn, 4)  # space for two more: 3 and 4
    assert (emitted(h), op.available, waiting.done()) == ([(10, 1), (20, 2)], False, False)
    fn.finish(3)
    await bounded(waiting)  # 5 started: nothing waits for space any more
    assert (fn.started, op.available) == ([1, 2, 3, 4, 5], True)
    fn.finish(4)
    fn.finish(5)
    await bounded(op.finish())
    assert [v for v, _ in emitted(h)] == [10, 20, 30, 40, 50]
    assert fn.max_pending == 2


async def test_watermarks_wait_behind_held_records_and_a_later_one_replaces_an_earlier() -> None:
    fn = Pending()
    h, op = await harness(fn, capacity=1)
    h.process_element(1, 1)
    h.process_element(2, 2)  # held: the queue is full
    h.process_watermark(5)
    h.process_watermark(6)
    await started(fn, 1)
    fn.finish(1)
    await settled(h, op, 0)  # 1 out, 2 started, the watermarks queued behind it
    await started(fn, 2)
    fn.finish(2)
    await settled(h, op, 0)
    assert emitted(h) == [(10, 1), (20, 2), ("w", 6)]


async def test_finish_waits_for_every_request_and_emits_every_result() -> None:
    fn = Pending()
    h, op = await harness(fn, ordered=False)
    h.process_element(1, None)
    h.process_element(2, None)
    await started(fn, 2)
    finishing = asyncio.create_task(op.finish())
    fn.finish(2)
    fn.finish(1)
    await bounded(finishing)
    assert emitted(h) == [(20, None), (10, None)]


async def test_flat_results_emit_none_or_several_records() -> None:
    fn = Pending()
    h, op = await harness(fn, flat=True)
    h.process_element(1, 7)
    h.process_element(2, 8)
    await started(fn, 2)
    fn.finish(1, ["a", "b"])
    fn.finish(2, [])
    await settled(h, op, 0)
    assert emitted(h) == [("a", 7), ("b", 7)]


async def test_a_checkpoint_holds_what_is_pending_and_a_restore_starts_it_again() -> None:
    fn = Pending()
    h, op = await harness(fn, capacity=2)
    h.process_element(1, 1)
    h.process_element(2, 2)
    h.process_watermark(3)
    h.process_element(4, 4)  # held: the queue is full
    await started(fn, 2)
    fn.finish(1)
    await settled(h, op, 1)  # 1 out; 4 started
    state = op.snapshot_state()
    assert state == {"operator_lists": {"in_flight": [("r", 2, 2), ("w", 3), ("r", 4, 4)]}}
    assert op.state_dict() == state
    running = list(op._running)
    await op.close()
    assert all(t.cancelled() for t in running)  # nothing leaks past close
    assert emitted(h) == [(10, 1)]

    fn2 = Pending()
    restored: AsyncWaitOperator[Any, Any] = AsyncWaitOperator(fn2, AsyncOptions(capacity=2))
    h2: OperatorHarness[Any] = OperatorHarness(restored)
    restored.load_state_dict(state)
    assert restored.snapshot_state() == state  # not started yet: still checkpointed as is
    await h2.open()
    await started(fn2, 2)
    assert fn2.started == [2, 4]
    fn2.finish(4)
    fn2.finish(2)
    await bounded(restored.finish())
    assert emitted(h2) == [(20, 2), ("w", 3), (40, 4)]


async def test_close_cancels_the_requests_still_running() -> None:
    fn = Pending()
    h, op = await harness(fn)
    h.process_element(1)
    h.process_element(2)
    await started(fn, 2)
    await op.close()
    assert all(f.cancelled() for f in fn.futures.values())
    assert (op._running, fn.pending, len(h.mailbox)) == (set(), 0, 0)
    await op.close()  # idempotent


async def test_skip_counts_a_failed_request_and_emits_the_others() -> None:
    fn = Pending()
    h, op = await harness(fn, error_policy="skip")
    h.process_elements([1, 2, 3])
    await started(fn, 3)
    fn.finish(1)
    fn.fail(2, ConnectionError("refused"))
    fn.finish(3)
    await settled(h, op, 0)
    assert (h.values(), op.metrics.errors.count) == ([10, 30], 1)


async def test_under_fail_a_failed_request_fails_at_once_naming_the_operator() -> None:
    fn = Pending()
    h, op = await harness(fn)
    h.process_elements([1, 2])
    await started(fn, 2)
    fn.fail(2, ConnectionError("refused"))  # 1 is still pending: no waiting for it
    await wait_until(lambda: len(op._running) == 1)
    with pytest.raises(OperatorError, match=r"'operator under test'.*in an async request.*refused"):
        await h.run_mails()


class Lookup(AsyncFunction[int, int]):
    async def async_invoke(self, value: int) -> int:
        return value


class BlockingLookup(AsyncFunction[int, int]):
    def async_invoke(self, value: int) -> int:  # type: ignore[override]
        return value


def lookup(value: int) -> int:
    return value


async def async_lookup(value: int) -> int:
    return value


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (lookup, r"needs an `async def` function .* got <function lookup .*\(a plain function"),
        (lambda v: async_lookup(v), r"needs an `async def`.*<lambda>"),
        (42, r"got 42 \(not callable"),
        (BlockingLookup(), r"needs BlockingLookup.async_invoke to be an `async def`"),
    ],
)
def test_a_function_that_is_not_async_is_refused_when_building(func: Any, message: str) -> None:
    stream = StreamExecutionEnvironment().from_collection([1])
    with pytest.raises(GraphError, match=message):
        stream.map_async(func)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"capacity": 0}, r"capacity must be an int >= 1; got 0"),
        ({"capacity": True}, r"capacity must be an int >= 1; got True"),
        ({"timeout_ms": 0}, r"timeout_ms must be an int >= 1; or None for no timeout; got 0"),
        ({"retries": -1}, r"retries must be an int >= 0; got -1"),
        ({"retry_delay_ms": 1.5}, r"retry_delay_ms must be an int >= 0; got 1.5"),
        ({"ordered": "yes"}, r"ordered must be True or False; got 'yes'"),
    ],
)
def test_options_out_of_range_are_refused_when_building(
    options: dict[str, Any], message: str
) -> None:
    stream = StreamExecutionEnvironment().from_collection([1])
    with pytest.raises(GraphError, match=message):
        stream.map_async(async_lookup, **options)


def test_async_functions_and_async_callables_are_accepted() -> None:
    stream = StreamExecutionEnvironment().from_collection([1])
    stream.map_async(Lookup()).on_error("skip")
    stream.map_async(async_lookup, capacity=1, timeout_ms=1, retries=3, ordered=False)
    stream.map_async(Pending())


class PyFlinkStyle(AsyncFunction[int, int]):
    """PyFlink's form: plain ``open``/``close``/``timeout``, a list of results per value."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def open(self, runtime_context: Any) -> None:  # type: ignore[override]
        self.events.append(f"open {runtime_context.subtask_index}")

    async def async_invoke(self, value: int) -> list[int]:  # type: ignore[override]
        if value == 3:
            await asyncio.Event().wait()  # never answers: times out
        return [value, value * 100]

    def timeout(self, value: int) -> list[int]:  # type: ignore[override]
        return [-value]

    def close(self) -> None:  # type: ignore[override]
        self.events.append("close")


async def test_a_pyflink_style_async_function_runs_with_flat_results() -> None:
    function = PyFlinkStyle()
    operator: AsyncWaitOperator[Any, Any] = AsyncWaitOperator(
        function, AsyncOptions(flat=True, timeout_ms=50)
    )
    h: OperatorHarness[Any] = OperatorHarness(operator)
    await h.open()
    h.process_elements([1, 3, 2])
    await bounded(h.close())
    assert h.values() == [1, 100, -3, 2, 200]
    assert function.events == ["open 0", "close"]


def test_the_example_in_the_docs_runs(capsys: pytest.CaptureFixture[str]) -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "async-io.md"
    example = re.search(r"```python\n(.*?)```", docs.read_text(), re.S)
    assert example is not None
    exec(compile(example.group(1), str(docs), "exec"), {"__name__": "docs"})
    expected = [{"user": u, "tier": "gold" if u % 3 == 0 else "basic"} for u in range(1, 7)]
    assert capsys.readouterr().out == f"{expected}\n"
