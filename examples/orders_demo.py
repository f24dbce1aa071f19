"""The demo job: synthetic orders -> parse -> validate -> key by country -> running revenue.

Run it with ``make run`` (or ``python -m examples.orders_demo``). It needs no broker: the
orders come from a generator inside the job. About 1 in 200 generated lines is malformed; those
go to a side output and are counted, never silently dropped. While it runs it prints progress
lines (records read, throughput, records out, back-pressure); at the end, a summary.

The same pipeline runs as a service with ``streamrt run examples.orders_demo:build``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from streamrt import (
    DataGeneratorSource,
    Job,
    OutputTag,
    ProcessFunction,
    StreamExecutionEnvironment,
)
from streamrt.environment import run_event_loop
from streamrt.testing import CollectSink

COUNTRIES = ["DE", "FR", "NL", "PL", "SE", "ES", "IT", "US"]
INVALID = OutputTag[str]("invalid")


def make_order(i: int) -> str:
    """Order ``i`` as a JSON line (deterministic; every 200th line is malformed)."""
    if i % 200 == 199:
        return f'{{"order_id": {i}, "amount": '  # truncated: the producer crashed mid-write
    h = (i * 2_654_435_761) & 0xFFFFFFFF  # Knuth's multiplicative hash: cheap, well spread
    return json.dumps(
        {
            "order_id": i,
            "user": f"user-{h % 10_000}",
            "country": COUNTRIES[(h >> 8) % len(COUNTRIES)],
            "amount": round((h >> 12) % 40_500 / 100 - 5, 2),  # a few refunds are negative
            "ts": 1_700_000_000_000 + i * 3,
        }
    )


class ParseOrder(ProcessFunction[str, dict[str, Any]]):
    """JSON line -> order dict; malformed lines go to the ``invalid`` side output."""

    def process_element(self, value: str, ctx: Any, out: Any) -> None:
        try:
            order = json.loads(value)
        except json.JSONDecodeError:
            ctx.output(INVALID, value)
            return
        out.collect(order)


def add_up(total: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """Running revenue and order count of a country."""
    return {
        "country": total["country"],
        "orders": total.get("orders", 1) + 1,
        "revenue": round(total.get("revenue", total["amount"]) + order["amount"], 2),
        "amount": order["amount"],
    }


def build(
    env: StreamExecutionEnvironment,
    records: int | None = 600_000,
    totals: CollectSink[dict[str, Any]] | None = None,
    invalid: CollectSink[str] | None = None,
) -> None:
    """The pipeline (``streamrt run examples.orders_demo:build`` calls it with the env only)."""
    lines = env.from_source(DataGeneratorSource(make_order, records), source_name="orders")
    parsed = lines.process(ParseOrder()).name("parse")
    (
        parsed.filter(lambda o: o["amount"] > 0)
        .name("paid orders")
        .key_by(lambda o: o["country"])
        .reduce(add_up)
        .name("revenue per country")
        .sink_to(totals if totals is not None else CollectSink())
        .name("totals")
    )
    parsed.get_side_output(INVALID).sink_to(invalid if invalid is not None else CollectSink()).name(
        "invalid lines"
    )


async def report(job: Job, interval: float) -> None:
    """Print a progress line every ``interval`` seconds until the job ends."""
    await job.started.wait()
    start = time.perf_counter()
    last_read, last_time = 0, start
    while job.status.value == "running":
        await asyncio.sleep(interval)
        stats = job.statistics()
        now = time.perf_counter()
        read = sum(o.records_in for o in stats.operators if o.operator == "Source: orders")
        out = stats.operator("revenue per country").records_out
        invalid = stats.operator("invalid lines").records_in
        busy = sum(t.backpressured_seconds for t in stats.tasks)
        rate = (read - last_read) / (now - last_time)
        print(
            f"  {now - start:5.1f}s  read {read:>9,}  ({rate:>9,.0f}/s)  aggregated {out:>9,}"
            f"  invalid {invalid:>6,}  back-pressured {busy:5.2f}s",
            flush=True,
        )
        last_read, last_time = read, now


async def run(records: int, parallelism: int) -> None:
    env = StreamExecutionEnvironment(parallelism=parallelism)
    totals: CollectSink[dict[str, Any]] = CollectSink()
    invalid: CollectSink[str] = CollectSink()
    build(env, records, totals, invalid)
    print(env.get_execution_plan("orders demo"))
    job = env.create_job("orders demo")
    async with asyncio.TaskGroup() as group:
        result_task = group.create_task(job.run())
        reporter = group.create_task(report(job, 1.0))
        await result_task
        reporter.cancel()
    result = result_task.result()
    latest: dict[str, dict[str, Any]] = {}
    for value in totals.values:
        latest[value["country"]] = value
    seconds = result.net_runtime_seconds
    print(f"\nfinished {records:,} orders in {seconds:.2f} s ({records / seconds:,.0f} records/s)")
    print(f"malformed lines sent to the side output: {len(invalid.values):,}")
    for country, total in sorted(latest.items()):
        print(f"  {country}: {total['orders']:>7,} paid orders, revenue {total['revenue']:>14,.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="streamrt demo: revenue per country")
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--parallelism", type=int, default=2)
    args = parser.parse_args()
    run_event_loop(lambda: run(args.records, args.parallelism))


if __name__ == "__main__":
    main()
