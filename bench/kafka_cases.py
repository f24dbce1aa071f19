"""The driver both Kafka benchmarks share: alternating cases, each in a child process.

A benchmark module defines ``CASES`` (name -> label), ``fill(bootstrap, topic, records)`` and
``run_case(case, bootstrap, source, records) -> dict`` (one measurement, with ``"rate"`` and
``"written"``), and calls ``main_for(...)`` from its ``main()``. The parent fills one topic on
the embedded broker (or ``KAFKA_BOOTSTRAP``), then runs every case once per round, in order, in
a fresh process, so each reports its own peak RSS and no case warms the next one's caches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from bench.brokers import kafka_bootstrap

#: partitions of the input and output topics
PARTITIONS = 8

#: one measurement of ``case``: ``run_case(case, bootstrap, source, records)``
RunCase = Callable[[str, str, str, int], dict[str, Any]]
#: what the parent receives: the arguments, the broker it used (``None``: ``KAFKA_BOOTSTRAP``),
#: its bootstrap servers and, per case, one result per round
Results = tuple[argparse.Namespace, Any, str, dict[str, list[dict[str, Any]]]]


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create topic ``name`` with ``partitions`` partitions (replication 1)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set size now (``VmHWM``: its peak), in MB.

    ``VmHWM`` is the peak since this process started its program. ``ru_maxrss`` is not: Linux
    carries it over from before ``exec``, so a child reports at least its parent's RSS at the
    fork (a parent that had just made 5 M lines of input reports ~1 GB for every child).
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(
    case: str,
    records: int,
    bootstrap: str,
    work: Callable[[str], Coroutine[Any, Any, int]],
) -> dict[str, Any]:
    """Time ``work(target)`` on uvloop, writing to a fresh topic; return one measurement.

    ``work`` returns how many records it wrote. Both sides of every benchmark run on uvloop,
    which is what ``env.execute`` uses.
    """
    import uvloop

    target = f"out-{uuid.uuid4().hex[:8]}"

    async def timed() -> tuple[float, int]:
        await create_topic(bootstrap, target, PARTITIONS)
        start = time.perf_counter()
        written = await work(target)
        return time.perf_counter() - start, written

    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds, written = uvloop.run(timed())
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {
        "case": case,
        "rate": records / seconds,
        "written": written,
        "peak_rss_mb": rss_mb("VmHWM"),
        # steadier than the rate on a shared machine: CPU time of this process per input record
        "cpu_us_per_record": cpu / records * 1e6,
    }


def main_for(
    module: str,
    doc: str | None,
    cases: dict[str, str],
    fill: Callable[[str, str, int], Coroutine[Any, Any, None]],
    run_case: RunCase,
    topic_prefix: str,
    *,
    rounds: int = 3,
) -> Results | None:
    """Parse the command line; in a child, print one measurement; in the parent, run all.

    ``rounds`` is the default of ``--rounds``. Returns ``None`` in a child, else ``(args, broker,
    bootstrap, results)`` after checking that every run of every case wrote the same number of
    records.
    """
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--case", choices=list(cases))
    parser.add_argument("--bootstrap")
    parser.add_argument("--source")
    args = parser.parse_args()
    if args.case:  # a child process: one measurement, as JSON
        print(json.dumps(run_case(args.case, args.bootstrap, args.source, args.records)))
        return None

    with kafka_bootstrap("noida") as (bootstrap, broker):
        source = f"{topic_prefix}-{uuid.uuid4().hex[:8]}"
        asyncio.run(fill(bootstrap, source, args.records))
        results: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
        for _ in range(args.rounds):
            for case in cases:
                command = [sys.executable, "-m", module, "--case", case]
                command += ["--bootstrap", bootstrap, "--source", source]
                command += ["--records", str(args.records)]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                results[case].append(json.loads(done.stdout.strip().splitlines()[-1]))
    written = {r["written"] for rs in results.values() for r in rs}
    if len(written) != 1:
        raise SystemExit(f"the cases wrote different record counts: {written}")
    return args, broker, bootstrap, results
