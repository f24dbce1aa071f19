"""Chain throughput against a plain Python loop doing the same per-record work.

The work: json parse -> filter -> enrich -> json serialize, over 200k JSON lines. Runs, in one
process and alternately, the plain loop and the same four steps as a streamrt job: at p=1 with
object reuse on and off, and at p=2 with a rebalance edge. Prints records/s and each job's
ratio to the loop measured in the same round (median over rounds).

    python -m bench.chain_throughput [--records N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

from streamrt import StreamExecutionEnvironment
from streamrt.testing import CollectSink

T = TypeVar("T")


def make_lines(n: int) -> list[str]:
    rng = random.Random(7)
    countries = ["DE", "FR", "NL", "PL", "US", "SE"]
    return [
        json.dumps(
            {
                "order_id": i,
                "user": f"user-{rng.randrange(5000)}",
                "amount": round(rng.uniform(1, 500), 2),
                "currency": "EUR",
                "ts": 1_700_000_000_000 + i,
                "items": rng.randrange(1, 9),
                "country": rng.choice(countries),
            }
        )
        for i in range(n)
    ]


def keep(order: dict[str, Any]) -> bool:
    return bool(order["amount"] > 50.0)


def enrich(order: dict[str, Any]) -> dict[str, Any]:
    order["amount_usd"] = round(order["amount"] * 1.08, 2)
    order["big"] = order["amount"] > 250.0
    return order


def plain_loop(lines: list[str]) -> int:
    out: list[str] = []
    loads, dumps = json.loads, json.dumps
    for line in lines:
        order = loads(line)
        if keep(order):
            out.append(dumps(enrich(order)))
    return len(out)


def build(env: StreamExecutionEnvironment, lines: list[str], sink: CollectSink[str]) -> None:
    """The four steps as a streamrt pipeline (a rebalance edge first when parallel)."""
    stream = env.from_collection(lines)
    if env.parallelism > 1:
        stream = stream.rebalance()
    (
        stream.map(json.loads)
        .name("parse")
        .filter(keep)
        .name("keep")
        .map(enrich)
        .name("enrich")
        .map(json.dumps)
        .name("serialize")
        .sink_to(sink)
    )


def streamrt_job(lines: list[str], *, parallelism: int, object_reuse: bool) -> int:
    env = StreamExecutionEnvironment(
        parallelism=parallelism, object_reuse=object_reuse, buffer_timeout_ms=100
    )
    sink: CollectSink[str] = CollectSink()
    build(env, lines, sink)
    env.execute("bench")
    return len(sink)


def timed(fn: Callable[[], T], n: int) -> tuple[float, float, T]:
    """Records/s by the wall clock and by this process's CPU time (which a busy neighbour on a
    shared machine disturbs less), and what ``fn`` returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    kept = fn()
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu), kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lines = make_lines(args.records)
    cases: dict[str, Callable[[], int]] = {
        "p=1, object reuse off": lambda: streamrt_job(lines, parallelism=1, object_reuse=False),
        "p=1, object reuse on": lambda: streamrt_job(lines, parallelism=1, object_reuse=True),
        "p=2 + rebalance, reuse off": lambda: streamrt_job(
            lines, parallelism=2, object_reuse=False
        ),
        "p=2 + rebalance, reuse on": lambda: streamrt_job(lines, parallelism=2, object_reuse=True),
    }
    expected = plain_loop(lines)

    def check(name: str, kept: int) -> None:
        if kept != expected:
            raise SystemExit(f"{name}: kept {kept} records, the loop kept {expected}")

    run_rounds(args.records, args.rounds, lambda: plain_loop(lines), cases, check)


def run_rounds(
    records: int,
    rounds: int,
    baseline: Callable[[], object],
    cases: dict[str, Callable[[], T]],
    check: Callable[[str, T], None],
) -> None:
    """Per round and case: the baseline, then the case (``check``ed); print the medians."""
    ratios: dict[str, list[float]] = {name: [] for name in cases}
    cpu_ratios: dict[str, list[float]] = {name: [] for name in cases}
    rates: dict[str, list[float]] = {name: [] for name in ["plain loop", *cases]}
    for _ in range(rounds):
        for name, case in cases.items():
            base, base_cpu, _ = timed(baseline, records)
            rate, rate_cpu, result = timed(case, records)
            check(name, result)
            rates["plain loop"].append(base)
            rates[name].append(rate)
            ratios[name].append(rate / base)
            cpu_ratios[name].append(rate_cpu / base_cpu)
    print_table(records, rounds, rates, ratios, cpu_ratios)


def print_table(
    records: int,
    rounds: int,
    rates: dict[str, list[float]],
    ratios: dict[str, list[float]],
    cpu_ratios: dict[str, list[float]],
) -> None:
    """Medians over rounds: records/s, the wall-clock and CPU-time ratios, each round's ratio."""
    median = statistics.median
    print(f"{records} records, {rounds} rounds, median of rounds")
    print(f"{'case':28} {'records/s':>10} {'ratio':>6} {'CPU ratio':>10}   ratio per round")
    print(f"{'plain loop':28} {median(rates['plain loop']):>10,.0f} {'1.00':>6} {'1.00':>10}")
    for name in ratios:
        spread = ", ".join(f"{r:.2f}" for r in ratios[name])
        print(
            f"{name:28} {median(rates[name]):>10,.0f} {median(ratios[name]):>6.2f} "
            f"{median(cpu_ratios[name]):>10.2f}   {spread}"
        )


if __name__ == "__main__":
    main()
