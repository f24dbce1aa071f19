"""Async I/O throughput: map_async against a 10 ms lookup service, and a hand-written loop.

The service is an aiohttp server in a subprocess (its own core on a 2-core machine, as a real
service would be elsewhere) that answers ``GET /lookup/{v}`` with ``v * 10`` after 10 ms. The
client side runs, alternately in each round: a hand-written asyncio loop that does the same
requests with a semaphore of 100 (the baseline), and a streamrt job ``from_collection ->
map_async(capacity=c) -> sink`` on one subtask for c = 1, 10, 100. Both use one
``aiohttp.ClientSession`` (connection pool of 100), and both processes run on uvloop (what
``env.execute`` uses when installed). Prints lookups/s and each job's ratio to the
baseline measured in the same round (median over rounds).

A second table runs the same cases against an in-process lookup that only sleeps 10 ms (no
HTTP): what the operator itself sustains when the client library costs nothing.

    python -m bench.async_io [--records N] [--rounds R] [--delay-ms D]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from streamrt import AsyncFunction, RuntimeContext, StreamExecutionEnvironment
from streamrt.environment import run_event_loop
from streamrt.testing import CollectSink


# -- the service (run in a subprocess) ---------------------------------------------------------
async def serve(delay_ms: float) -> None:
    """Serve on a free loopback port, print it, run until stdin closes."""

    async def lookup(request: web.Request) -> web.Response:
        await asyncio.sleep(delay_ms / 1000)
        return web.json_response(int(request.match_info["v"]) * 10)

    app = web.Application()
    app.router.add_get("/lookup/{v}", lookup)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # the parent closes stdin to stop us
    await runner.cleanup()


# -- the clients ---------------------------------------------------------------------------------
class HttpLookup(AsyncFunction[int, int]):
    """The lookup as a map_async function: one session per subtask."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: aiohttp.ClientSession | None = None

    async def open(self, runtime_context: RuntimeContext) -> None:
        self.session = aiohttp.ClientSession()

    async def async_invoke(self, value: int) -> int:
        assert self.session is not None
        async with self.session.get(f"{self.url}/lookup/{value}") as response:
            result: int = await response.json()
            return result

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


async def baseline(url: str, records: int) -> int:
    """The hand-written loop: every request a task, at most 100 at a time."""
    semaphore = asyncio.Semaphore(100)
    async with aiohttp.ClientSession() as session:

        async def one(v: int) -> int:
            async with semaphore, session.get(f"{url}/lookup/{v}") as response:
                result: int = await response.json()
                return result

        results = await asyncio.gather(*(one(v) for v in range(records)))
    return len(results)


def sleeping_lookup(delay_ms: float) -> Callable[[int], Coroutine[Any, Any, int]]:
    """A lookup that only waits: the service without the HTTP client's cost."""

    async def lookup(value: int) -> int:
        await asyncio.sleep(delay_ms / 1000)
        return value * 10

    return lookup


async def sleeping_baseline(delay_ms: float, records: int) -> int:
    """The hand-written loop around ``sleeping_lookup``: a task per value, 100 at a time."""
    semaphore = asyncio.Semaphore(100)
    lookup = sleeping_lookup(delay_ms)

    async def one(v: int) -> int:
        async with semaphore:
            return await lookup(v)

    return len(await asyncio.gather(*(one(v) for v in range(records))))


async def streamrt_job(url: str, records: int, capacity: int, function: Any = None) -> int:
    env = StreamExecutionEnvironment(parallelism=1, buffer_timeout_ms=100)
    sink: CollectSink[int] = CollectSink()
    (
        env.from_collection(range(records))
        .map_async(function or HttpLookup(url), capacity=capacity)
        .name("lookup")
        .sink_to(sink)
    )
    await env.execute_async("async io bench")
    return len(sink.values)


async def timed(run: Callable[[], Awaitable[int]], records: int) -> float:
    start = time.perf_counter()
    done = await run()
    elapsed = time.perf_counter() - start
    if done != records:
        raise SystemExit(f"{done} results for {records} records")
    return records / elapsed


async def measure(url: str, args: argparse.Namespace) -> None:
    await timed(lambda: baseline(url, 500), 500)  # warm up the service and the loop
    print(f"HTTP service in a subprocess ({args.delay_ms} ms per lookup)")
    await table(args, lambda records: baseline(url, records), lambda r, c: streamrt_job(url, r, c))
    sleeper = sleeping_lookup(args.delay_ms)
    print(f"\nin-process lookup that sleeps {args.delay_ms} ms (no HTTP)")
    await table(
        args,
        lambda records: sleeping_baseline(args.delay_ms, records),
        lambda r, c: streamrt_job(url, r, c, sleeper),
    )


async def table(
    args: argparse.Namespace,
    loop: Callable[[int], Awaitable[int]],
    job: Callable[[int, int], Awaitable[int]],
) -> None:
    """One table: the loop and map_async at capacity 1/10/100, alternately, median of rounds."""
    n = args.records
    sizes = {1: max(1, n // 50), 10: n // 5, 100: n}  # capacity 1 is 100 lookups/s at best
    names = {c: f"map_async capacity={c}" for c in sizes}
    base_name = "asyncio loop, semaphore 100"
    rates: dict[str, list[float]] = {base_name: [], **{names[c]: [] for c in sizes}}
    ratios: dict[str, list[float]] = {names[c]: [] for c in sizes}
    for _ in range(args.rounds):
        for capacity, records in sizes.items():
            base = await timed(lambda: loop(n), n)
            rate = await timed(lambda: job(records, capacity), records)  # noqa: B023
            rates[base_name].append(base)
            rates[names[capacity]].append(rate)
            ratios[names[capacity]].append(rate / base)
    print(f"{n} lookups (capacity 1: {sizes[1]}, 10: {sizes[10]}), ", end="")
    print(f"{args.rounds} rounds, median of rounds")
    print(f"{'case':32} {'lookups/s':>12} {'ratio to loop':>14}")
    print(f"{base_name:32} {statistics.median(rates[base_name]):>12,.0f} {'1.00':>14}")
    for name in ratios:
        print(
            f"{name:32} {statistics.median(rates[name]):>12,.0f} "
            f"{statistics.median(ratios[name]):>14.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_event_loop(lambda: serve(args.delay_ms))
        return
    service = subprocess.Popen(
        [sys.executable, "-m", "bench.async_io", "--serve", "--delay-ms", str(args.delay_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout is not None
        port = int(service.stdout.readline())
        run_event_loop(lambda: measure(f"http://127.0.0.1:{port}", args))
    finally:
        assert service.stdin is not None
        service.stdin.close()
        service.wait(timeout=30)


if __name__ == "__main__":
    main()
