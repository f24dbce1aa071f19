"""Does exporting metrics slow the data path? The chain benchmark with and without scraping.

Runs the job of ``bench.chain_throughput`` (json parse -> filter -> enrich -> json serialize)
alternately without a metrics server, and with a ``MetricsServer`` on a loopback port that a
separate thread scrapes over HTTP every second (as Prometheus would). Prints records/s of both
and the relative difference (median over rounds). Target (issue 4): within 3 %.

    python -m bench.metrics_overhead [--records 1000000] [--rounds 5] [--interval 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
import urllib.request

from bench.chain_throughput import build, make_lines
from metrics import MetricsServer
from streamrt import StreamExecutionEnvironment
from streamrt.environment import run_event_loop
from streamrt.testing import CollectSink


def scrape_forever(url: str, interval: float, stop: threading.Event, count: list[int]) -> None:
    while not stop.wait(interval):
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
        count[0] += 1


async def run_once(
    lines: list[str], *, scraped: bool, interval: float, reuse: bool
) -> tuple[float, int]:
    env = StreamExecutionEnvironment(parallelism=1, object_reuse=reuse)
    build(env, lines, CollectSink())
    job = env.create_job("overhead")
    if not scraped:
        start = time.perf_counter()
        await job.run()
        return len(lines) / (time.perf_counter() - start), 0
    async with MetricsServer(job, host="127.0.0.1", port=0) as server:
        stop, count = threading.Event(), [0]
        scraper = threading.Thread(
            target=scrape_forever, args=(f"{server.url}/metrics", interval, stop, count)
        )
        start = time.perf_counter()
        scraper.start()
        try:
            await job.run()
            rate = len(lines) / (time.perf_counter() - start)
        finally:
            stop.set()
            await asyncio.to_thread(scraper.join)
    return rate, count[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--object-reuse", action="store_true")
    args = parser.parse_args()
    lines = make_lines(args.records)
    plain, scraped, diffs, scrapes = [], [], [], []
    for _ in range(args.rounds):
        a, _ = run_event_loop(
            lambda: run_once(lines, scraped=False, interval=args.interval, reuse=args.object_reuse)
        )
        b, n = run_event_loop(
            lambda: run_once(lines, scraped=True, interval=args.interval, reuse=args.object_reuse)
        )
        plain.append(a)
        scraped.append(b)
        diffs.append(b / a - 1)
        scrapes.append(n)
    print(
        f"{args.records} records per run, {args.rounds} rounds, scraped every "
        f"{args.interval:g} s ({min(scrapes)}-{max(scrapes)} scrapes per run), median"
    )
    print(f"{'without metrics server':34} {statistics.median(plain):>12,.0f} records/s")
    print(f"{'with server, scraped':34} {statistics.median(scraped):>12,.0f} records/s")
    print(
        f"difference: {statistics.median(diffs):+.1%} (per round: "
        f"{', '.join(f'{d:+.1%}' for d in diffs)})"
    )


if __name__ == "__main__":
    main()
