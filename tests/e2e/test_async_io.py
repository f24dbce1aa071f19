"""map_async against a real HTTP server on 127.0.0.1: order, capacity, timeouts, retries, restore.

The server (``aiohttp.web``, started by each test) answers ``GET /lookup/{v}`` with ``v * 10``
and counts the requests it is serving at once; tests make it delay, hold, fail or never answer
chosen values. The user function is an ``AsyncFunction`` with an ``aiohttp.ClientSession`` made
in ``open`` and closed in ``close``.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from streamrt import (
    FAILED_RECORDS,
    MIN_WATERMARK,
    AsyncFunction,
    DataStream,
    FailedRecord,
    OperatorError,
    ProcessFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
    WatermarkStrategy,
)
from streamrt.runtime.elements import Watermark
from streamrt.runtime.watermarks import WatermarkGenerator, WatermarkOutput
from streamrt.testing import CollectSink, GatedSource, ListSource
from tests.conftest import bounded, cancel_and_expect_cancelled, wait_until


class LookupServer:
    """``GET /lookup/{v}`` → ``v * 10`` as JSON, with knobs per value (all default off)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.attempts: Tally[int] = Tally()
        self.delay_ms: Callable[[int], float] = lambda v: 0.0
        self.hold: Callable[[int], bool] = lambda v: False  # until release()
        self.never: Callable[[int], bool] = lambda v: False  # until the server stops
        self.fail_first = 0  # answer 503 to the first n attempts of every value
        self.held = 0
        self._released = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/lookup/{v}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        self._stopping.set()
        self._released.set()
        assert self._runner is not None
        await self._runner.cleanup()

    def release(self) -> None:
        """Answer every held request (and hold nothing from now on)."""
        self.hold = lambda v: False
        self._released.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        v = int(request.match_info["v"])
        self.attempts[v] += 1
        attempt = self.attempts[v]
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.hold(v):
                self.held += 1
                await self._released.wait()
            if self.never(v):
                await self._stopping.wait()
            if attempt <= self.fail_first:
                return web.Response(status=503, text=f"attempt {attempt} of {v} fails")
            delay = self.delay_ms(v)
            if delay:
                await asyncio.sleep(delay / 1000)
            return web.json_response(v * 10)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def server() -> AsyncIterator[LookupServer]:
    lookup = LookupServer()
    await lookup.start()
    yield lookup
    await lookup.stop()


class HttpLookup(AsyncFunction[int, int]):
    """The user function: one ``ClientSession`` per subtask, made in ``open``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: aiohttp.ClientSession | None = None

    async def open(self, runtime_context: RuntimeContext) -> None:
        self.session = aiohttp.ClientSession(raise_for_status=True)

    async def async_invoke(self, value: int) -> int:
        assert self.session is not None
        async with self.session.get(f"{self.url}/lookup/{value}") as response:
            result: int = await response.json()
            return result

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


def numbers(env: StreamExecutionEnvironment, count: int, *, after_channel: bool) -> DataStream[int]:
    """``0..count-1``; chained to the source, or read from a channel (``rebalance``)."""
    stream = env.from_collection(list(range(count)))
    return stream.rebalance() if after_channel else stream


WHERE = pytest.mark.parametrize("after_channel", [False, True], ids=["after-source", "channel"])


@pytest.mark.slow
@WHERE
async def test_ordered_results_keep_input_order_whatever_the_delays(
    env_factory: Callable[..., StreamExecutionEnvironment],
    server: LookupServer,
    after_channel: bool,
) -> None:
    delays = random.Random(11)
    server.delay_ms = lambda v: delays.uniform(0, 8)
    env = env_factory()
    out = await bounded(
        numbers(env, 300, after_channel=after_channel)
        .map_async(HttpLookup(server.url), capacity=25)
        .name("lookup")
        .execute_and_collect_async()
    )
    assert [v * 10 for v in range(300)] == out
    assert server.attempts == Tally(range(300))
    assert server.max_in_flight <= 25


class EveryTenth(WatermarkGenerator):
    """A punctuated generator: watermark ``t`` after the record with timestamp ``t = 9 mod 10``."""

    def on_event(self, event: Any, timestamp: int, output: WatermarkOutput) -> None:
        if timestamp % 10 == 9:
            output.emit_watermark(Watermark(timestamp))


class SeenAt(ProcessFunction[int, tuple[int, int | None, int]]):
    """Each value with its timestamp and the watermark it arrived under."""

    def process_element(self, value: int, ctx: Any, out: Any) -> None:
        out.collect((value, ctx.timestamp(), ctx.timer_service().current_watermark()))


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered", "unordered"])
async def test_results_keep_their_timestamps_and_never_cross_a_watermark(
    env_factory: Callable[..., StreamExecutionEnvironment],
    server: LookupServer,
    ordered: bool,
) -> None:
    count = 200
    delays = random.Random(5)
    server.delay_ms = lambda v: delays.uniform(0, 10)
    env = env_factory()
    values = list(range(count))
    source = ListSource(values, batch_size=10, timestamps=values)
    out = await bounded(
        env.from_source(source, WatermarkStrategy.for_generator(EveryTenth))
        .map_async(HttpLookup(server.url), capacity=30, ordered=ordered)
        .name("lookup")
        .process(SeenAt())
        .execute_and_collect_async()
    )
    assert sorted(v for v, _, _ in out) == [v * 10 for v in values]  # everything, once
    if ordered:
        assert [v for v, _, _ in out] == [v * 10 for v in values]
    for result, timestamp, watermark in out:
        v = result // 10
        assert timestamp == v  # the input record's timestamp
        # emitted after every watermark before its input, before every one after it
        last_before = v // 10 * 10 - 1 if v >= 10 else MIN_WATERMARK
        assert last_before <= watermark < v, (v, watermark)


@WHERE
async def test_capacity_bounds_the_requests_in_flight_and_back_pressures_the_input(
    env_factory: Callable[..., StreamExecutionEnvironment],
    server: LookupServer,
    after_channel: bool,
) -> None:
    capacity = 7
    server.hold = lambda v: True
    server.delay_ms = lambda v: 1.0
    env = env_factory()
    sink: CollectSink[int] = CollectSink()
    (
        numbers(env, 100, after_channel=after_channel)
        .map_async(HttpLookup(server.url), capacity=capacity, ordered=False)
        .name("lookup")
        .sink_to(sink)
    )
    job = env.create_job("capacity")
    running = asyncio.create_task(job.run())
    await wait_until(lambda: server.held == capacity, what="the first requests")
    # full: the operator waits for space; the server saw no more than capacity requests
    assert (server.in_flight, len(server.attempts), sink.values) == (capacity, capacity, [])
    server.release()
    await bounded(running)
    assert sorted(sink.values) == [v * 10 for v in range(100)]
    assert server.attempts == Tally(range(100))
    assert server.max_in_flight == capacity


SLOW = {0, 5, 10, 15}


def timeout_job(
    env: StreamExecutionEnvironment, server: LookupServer, policy: Any
) -> tuple[DataStream[int], CollectSink[int]]:
    server.never = lambda v: v in SLOW
    sink: CollectSink[int] = CollectSink()
    looked_up = (
        env.from_collection(list(range(20)))
        .map_async(HttpLookup(server.url), capacity=20, timeout_ms=300)
        .name("lookup")
        .on_error(policy)
    )
    looked_up.sink_to(sink)
    return looked_up, sink


@pytest.mark.slow
async def test_a_timeout_fails_the_job_naming_the_operator_and_the_value(
    env_factory: Callable[..., StreamExecutionEnvironment], server: LookupServer
) -> None:
    env = env_factory()
    timeout_job(env, server, "fail")
    with pytest.raises(OperatorError, match=r"'lookup'.*TimeoutError.*timeout_ms=300") as info:
        await bounded(env.execute_async("timeouts"))
    assert isinstance(info.value.__cause__, TimeoutError)
    assert re.search(r"for value (0|5|10|15)\b", str(info.value))


@pytest.mark.slow
async def test_skip_counts_the_timed_out_records(
    env_factory: Callable[..., StreamExecutionEnvironment], server: LookupServer
) -> None:
    env = env_factory()
    _, sink = timeout_job(env, server, "skip")
    result = await bounded(env.execute_async("skip timeouts"))
    assert [v * 10 for v in range(20) if v not in SLOW] == sink.values
    stats = result.statistics.operator("lookup")
    assert (stats.records_in, stats.records_out, stats.errors) == (20, 16, 4)


@pytest.mark.slow
async def test_side_output_carries_the_timed_out_values(
    env_factory: Callable[..., StreamExecutionEnvironment], server: LookupServer
) -> None:
    env = env_factory()
    looked_up, sink = timeout_job(env, server, "side_output")
    failed: CollectSink[FailedRecord] = CollectSink()
    looked_up.get_side_output(FAILED_RECORDS).sink_to(failed)
    result = await bounded(env.execute_async("divert timeouts"))
    assert [v * 10 for v in range(20) if v not in SLOW] == sink.values
    assert [(f.value, f.operator, f.error_type) for f in failed.values] == [
        (v, "lookup", "TimeoutError") for v in sorted(SLOW)
    ]
    assert "timeout_ms=300" in failed.values[0].error_message
    assert result.statistics.operator("lookup").errors == 4


class WithFallback(HttpLookup):
    async def timeout(self, value: int) -> int:
        return -value


@pytest.mark.slow
async def test_an_async_function_may_answer_a_timeout_with_a_fallback(
    env_factory: Callable[..., StreamExecutionEnvironment], server: LookupServer
) -> None:
    server.never = lambda v: v in SLOW
    env = env_factory()
    out = await bounded(
        env.from_collection(list(range(20)))
        .map_async(WithFallback(server.url), timeout_ms=300)
        .execute_and_collect_async()
    )
    assert [-v if v in SLOW else v * 10 for v in range(20)] == out


async def test_failed_attempts_are_retried(
    env_factory: Callable[..., StreamExecutionEnvironment], server: LookupServer
) -> None:
    server.fail_first = 2
    env = env_factory()
    out = await bounded(
        env.from_collection(list(range(30)))
        .map_async(HttpLookup(server.url), capacity=10, retries=2, retry_delay_ms=1)
        .execute_and_collect_async()
    )
    assert [v * 10 for v in range(30)] == out
    assert server.attempts == Tally(dict.fromkeys(range(30), 3))


async def test_exhausted_retries_go_to_the_error_policy(
    env_factory: Callable[..., StreamExecutionEnvironment], server: LookupServer
) -> None:
    server.fail_first = 2
    env = env_factory()
    failed: CollectSink[FailedRecord] = CollectSink()
    looked_up = (
        env.from_collection(list(range(10)))
        .map_async(HttpLookup(server.url), retries=1, retry_delay_ms=1)
        .name("lookup")
        .on_error("side_output")
    )
    looked_up.get_side_output(FAILED_RECORDS).sink_to(failed)
    sink: CollectSink[int] = CollectSink()
    looked_up.sink_to(sink)
    result = await bounded(env.execute_async("retries"))
    assert sink.values == []
    assert [(f.value, f.error_type) for f in failed.values] == [
        (v, "ClientResponseError") for v in range(10)
    ]
    assert "503" in failed.values[0].error_message
    assert server.attempts == Tally(dict.fromkeys(range(10), 2))
    assert result.statistics.operator("lookup").errors == 10


def restore_job(
    env: StreamExecutionEnvironment, server: LookupServer, gate: GatedSource[int], *, channel: bool
) -> CollectSink[int]:
    sink: CollectSink[int] = CollectSink()
    stream = env.from_source(gate, source_name="numbers")
    if channel:
        stream = stream.rebalance()
    (
        stream.map_async(HttpLookup(server.url), capacity=20)
        .name("lookup")
        .uid("lookup")
        .sink_to(sink)
        .name("out")
    )
    return sink


@WHERE
async def test_a_restore_reissues_the_requests_in_flight_at_the_checkpoint(
    env_factory: Callable[..., StreamExecutionEnvironment],
    server: LookupServer,
    tmp_path: Path,
    after_channel: bool,
) -> None:
    count = 30
    server.hold = lambda v: v >= 5  # 0..4 answer, 5..9 are in flight at the checkpoint
    env = env_factory()
    env.enable_checkpointing(3_600_000, storage=tmp_path)
    sink = restore_job(env, server, GatedSource(range(count), 10), channel=after_channel)
    job = env.create_job("async restore")
    running = asyncio.create_task(job.run())
    await wait_until(lambda: server.held == 5 and len(sink.values) == 5, what="5 held, 5 out")
    checkpoint = await bounded(job.checkpoint())
    await cancel_and_expect_cancelled((job, running))
    assert checkpoint.operator_states("lookup") == [
        {"operator_lists": {"in_flight": [("r", v, None) for v in range(5, 10)]}}
    ]
    before = list(sink.values)

    server.release()
    env2 = env_factory()
    env2.enable_checkpointing(3_600_000, storage=tmp_path)
    sink2 = restore_job(env2, server, GatedSource(range(count), count), channel=after_channel)
    await bounded(env2.create_job("async restore", restore_from=checkpoint.location).run())
    assert [v * 10 for v in range(5)] == before
    assert [v * 10 for v in range(5, count)] == sink2.values  # every result exactly once
    assert server.attempts == Tally(
        {**dict.fromkeys(range(count), 1), **dict.fromkeys(range(5, 10), 2)}
    )


@pytest.mark.parametrize("parallelisms", [(2, 1), (1, 3)])
async def test_requests_in_flight_are_split_across_subtasks_when_restored_at_another_parallelism(
    env_factory: Callable[..., StreamExecutionEnvironment],
    server: LookupServer,
    tmp_path: Path,
    parallelisms: tuple[int, int],
) -> None:
    before, after = parallelisms
    count = 40
    server.hold = lambda v: v >= 10  # 10..19 are in flight at the checkpoint

    def build(env: StreamExecutionEnvironment, limit: int, parallelism: int) -> CollectSink[int]:
        sink: CollectSink[int] = CollectSink()
        (
            env.from_source(GatedSource(range(count), limit), source_name="numbers")
            .rebalance()
            .map_async(HttpLookup(server.url), capacity=20)
            .name("lookup")
            .uid("lookup")
            .set_parallelism(parallelism)
            .sink_to(sink)
            .set_parallelism(1)
        )
        return sink

    env = env_factory()
    env.enable_checkpointing(3_600_000, storage=tmp_path)
    sink = build(env, 20, before)
    job = env.create_job("async rescale")
    running = asyncio.create_task(job.run())
    await wait_until(lambda: server.held == 10 and len(sink.values) == 10, what="10 held, 10 out")
    checkpoint = await bounded(job.checkpoint())
    await cancel_and_expect_cancelled((job, running))
    states = checkpoint.operator_states("lookup")
    assert len(states) == before
    in_flight = [e for s in states for e in s["operator_lists"]["in_flight"]]
    assert sorted(in_flight) == [("r", v, None) for v in range(10, 20)]

    server.release()
    env2 = env_factory()
    env2.enable_checkpointing(3_600_000, storage=tmp_path)
    sink2 = build(env2, count, after)
    await bounded(env2.create_job("async rescale", restore_from=checkpoint.location).run())
    assert sorted(sink.values + sink2.values) == [v * 10 for v in range(count)]  # each once
    assert server.attempts == Tally(
        {**dict.fromkeys(range(count), 1), **dict.fromkeys(range(10, 20), 2)}
    )


async def run_for(server: LookupServer, capacity: int, count: int) -> float:
    env = StreamExecutionEnvironment(buffer_timeout_ms=1)
    start = time.perf_counter()
    out = await bounded(
        env.from_collection(list(range(count)))
        .map_async(HttpLookup(server.url), capacity=capacity)
        .execute_and_collect_async()
    )
    elapsed = time.perf_counter() - start
    assert [v * 10 for v in range(count)] == out
    return elapsed


@pytest.mark.slow
async def test_throughput_scales_with_capacity(server: LookupServer) -> None:
    server.delay_ms = lambda v: 10.0
    serial = await run_for(server, 1, 100)
    concurrent = await run_for(server, 20, 100)
    assert serial >= 1.0  # 100 requests one at a time, each at least 10 ms
    assert serial >= 5 * concurrent, (serial, concurrent)
    assert server.max_in_flight == 20
