"""Keyed rolling reduce against a plain loop with a dict doing the same per-record work.

The work: json parse -> key by user -> rolling sum of the amount into a new dict per record
(Flink's ``reduce``: the first value of a key is kept as it is) -> collect every result, over
200k JSON lines of 5,000 users. Runs, in one process and alternately, the plain loop and the
same steps as a streamrt job at defaults (object reuse off) at p=1 and p=2, and with object
reuse on at p=1. Prints records/s and each job's ratio to the loop measured right before it
(median over rounds).

    python -m bench.keyed_throughput [--records N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from bench.chain_throughput import make_lines, run_rounds
from streamrt import StreamExecutionEnvironment
from streamrt.testing import CollectSink


def add(acc: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    return {"user": acc["user"], "amount": acc["amount"] + order["amount"]}


def plain_loop(lines: list[str]) -> list[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    loads = json.loads
    for line in lines:
        order = loads(line)
        user = order["user"]
        acc = totals.get(user)
        result = order if acc is None else add(acc, order)
        totals[user] = result
        out.append(result)
    return out


def streamrt_job(lines: list[str], *, parallelism: int, object_reuse: bool) -> list[dict[str, Any]]:
    env = StreamExecutionEnvironment(
        parallelism=parallelism, object_reuse=object_reuse, buffer_timeout_ms=100
    )
    sink: CollectSink[dict[str, Any]] = CollectSink()
    (
        env.from_collection(lines)
        .map(json.loads)
        .name("parse")
        .key_by(lambda order: order["user"])
        .reduce(add)
        .name("sum")
        .sink_to(sink)
    )
    env.execute("keyed")
    return sink.values


def last_per_user(results: list[dict[str, Any]]) -> dict[str, float]:
    """Each user's final total, the check that a job did the loop's work (order may differ)."""
    best: dict[str, dict[str, Any]] = {}
    for r in results:
        best[r["user"]] = r
    return {u: round(r["amount"], 6) for u, r in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lines = make_lines(args.records)
    cases: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "p=1, defaults": lambda: streamrt_job(lines, parallelism=1, object_reuse=False),
        "p=1, object reuse on": lambda: streamrt_job(lines, parallelism=1, object_reuse=True),
        "p=2, defaults": lambda: streamrt_job(lines, parallelism=2, object_reuse=False),
    }
    expected = plain_loop(lines)
    want = last_per_user(expected)

    def check(name: str, got: list[dict[str, Any]]) -> None:
        if len(got) != len(expected) or last_per_user(got) != want:
            raise SystemExit(f"{name}: results differ from the loop's")

    run_rounds(args.records, args.rounds, lambda: plain_loop(lines), cases, check)


if __name__ == "__main__":
    main()
