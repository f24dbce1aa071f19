"""What checkpointing costs: a directory against memory on the Kafka job, and 1 M keys of state.

Part 1, the Kafka ETL job of ``bench.kafka_throughput`` (``KafkaSource(bounded) -> map ->
filter -> map -> map -> KafkaSink``, p=1, object reuse off, a checkpoint every second), run as
that benchmark runs it (its ``run_case``, the same job code, each run in its own process, the
cases alternating per round, on the embedded noida broker) in two cases:

* ``memory``: ``enable_checkpointing(1_000)``, checkpoints kept in memory only;
* ``directory``: ``enable_checkpointing(1_000, storage=<fresh temporary directory>)``, every
  checkpoint written (and fsync'd) as ``chk-<n>/`` before it counts as complete.

The second case is the first with ``storage=`` added: the benchmark wraps
``StreamExecutionEnvironment.enable_checkpointing`` in the child process to pass it (and to
keep the environment, for the checkpoint statistics). Reported: median records/s and the
ratio directory/memory per round.

Part 2, 1 M keys of small state: ``DataGeneratorSource(i % keys)`` (unbounded, so records keep
flowing while checkpoints run) -> ``key_by(identity)`` -> a keyed process function counting
per key in a ``ValueState`` (one int per key) -> a discarding sink, checkpointing to a
temporary directory with a one-hour interval. Once every key is in the state, the benchmark
triggers ``await job.checkpoint()`` a few times and reports per checkpoint: the call's wall
time, the coordinator's ``last_duration_seconds``, the encoded size, the bytes on disk, the
storage write (worker thread), and how long the record path was blocked, measured two ways:

* the keyed task's synchronous ``StreamTask._snapshot`` (state_dict copy + pickle + header),
  timed by wrapping the method on the task instance, with the copy (``chain.snapshot_state``)
  timed apart;
* the event loop's longest stall: a heartbeat coroutine wakes every 1 ms and records the gaps
  between its wake-ups, during the checkpoint and in a 1 s window before it (the baseline:
  how long the loop normally runs without yielding while records flow).

The last checkpoint's ``_snapshot`` runs under cProfile (its numbers are not in the medians).
Then the job is cancelled and a new one restored from the checkpoint directory: the time from
``create_job(restore_from=path)`` until every task is running (and the keys are checked).

    python -m bench.checkpoint_cost [--records 500000] [--rounds 3] [--keys 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import json
import os
import pstats
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import kafka_throughput
from bench.brokers import kafka_bootstrap
from bench.kafka_cases import PARTITIONS, rss_mb
from bench.kafka_throughput import fill

ETL_CASES = {
    "memory": "A: checkpoints in memory",
    "directory": "B: checkpoints to a directory",
}
CHECKPOINT_INTERVAL_MS = 1_000  # what kafka_throughput's job enables


# -- part 1: the Kafka ETL job ------------------------------------------------------------------
def run_etl_case(
    case: str, bootstrap: str, source: str, records: int, storage_parent: str
) -> dict[str, Any]:
    """One run of kafka_throughput's streamrt job (object reuse off), storage per ``case``."""
    from streamrt import StreamExecutionEnvironment

    directory = tempfile.mkdtemp(prefix="bench-chk-", dir=storage_parent)
    envs: list[StreamExecutionEnvironment] = []
    original = StreamExecutionEnvironment.enable_checkpointing

    def enable_checkpointing(
        self: StreamExecutionEnvironment, interval_ms: int, **kwargs: Any
    ) -> StreamExecutionEnvironment:
        if interval_ms != CHECKPOINT_INTERVAL_MS or kwargs:  # kafka_throughput's job changed
            msg = f"unexpected enable_checkpointing({interval_ms}, {kwargs})"
            raise SystemExit(msg)
        envs.append(self)
        if case == "directory":
            kwargs["storage"] = directory
        return original(self, interval_ms, **kwargs)

    StreamExecutionEnvironment.enable_checkpointing = enable_checkpointing  # type: ignore[method-assign]
    try:
        result = kafka_throughput.run_case("streamrt", bootstrap, source, records)
        (env,) = envs
        job = env.last_job
        assert job is not None
        checkpoints = job.statistics().checkpoints
        on_disk = sorted(p.name for p in Path(directory).iterdir())
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result.update(
            case=case,
            checkpoints=checkpoints.completed,
            failed=checkpoints.failed,
            last_duration=checkpoints.last_duration_seconds,
            last_size=checkpoints.last_size_bytes,
            kept=on_disk,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
        )
        return result
    finally:
        StreamExecutionEnvironment.enable_checkpointing = original  # type: ignore[method-assign]
        shutil.rmtree(directory, ignore_errors=True)


# -- part 2: 1 M keys of small state ------------------------------------------------------------
class _Heartbeat:
    """Wakes every ``period`` seconds; the gaps between wake-ups are how long the loop stalled."""

    def __init__(self, period: float = 0.001) -> None:
        self.period = period
        self.wakes: list[float] = []

    async def run(self) -> None:
        now = time.perf_counter
        sleep = asyncio.sleep
        wakes = self.wakes
        while True:
            wakes.append(now())
            await sleep(self.period)

    def max_gap(self, start: float, end: float) -> float:
        """The longest time between two wake-ups overlapping [start, end] (seconds)."""
        wakes = self.wakes
        longest = 0.0
        for before, after in itertools.pairwise(wakes):
            if after >= start and before <= end:
                longest = max(longest, after - before)
        if wakes and wakes[-1] < end:  # still stalled at the end of the window
            longest = max(longest, end - wakes[-1])
        return longest


def _key_of_index(keys: int, index: int) -> int:
    return index % keys


def _identity(value: int) -> int:
    return value


def _build_keys_pipeline(env: Any, keys: int) -> None:
    import functools

    from streamrt.connectors.datagen import DataGeneratorSource
    from streamrt.functions import KeyedProcessFunction
    from streamrt.runtime.sink_writer import SinkWriterBase

    class CountPerKey(KeyedProcessFunction[int, int]):
        def open(self, runtime_context: Any) -> None:
            self.count = runtime_context.get_state("count", 0)

        def process_element(self, value: int, ctx: Any, out: Any) -> None:
            n = self.count.value() + 1
            self.count.update(n)
            out.collect(n)

    class Discard(SinkWriterBase):
        def write(self, value: Any, timestamp: int | None) -> None:
            pass

    class DiscardingSink:
        def create_writer(self, context: Any) -> Discard:
            return Discard()

    (
        env.from_source(
            DataGeneratorSource(functools.partial(_key_of_index, keys)), source_name="keys"
        )
        .uid("keys")
        .key_by(_identity)
        .process(CountPerKey())
        .name("count")
        .uid("count")
        .sink_to(DiscardingSink())
        .name("discard")
    )


def _keyed_task(job: Any) -> Any:
    (task,) = [t for t in job.tasks if any(n.key_selector is not None for n in t.vertex.nodes)]
    return task


def _count_table(task: Any) -> dict[Any, Any]:
    (operator,) = [op for op in task.chain.operators if op.state_backend is not None]
    table: dict[Any, Any] = operator.state_backend.table("count", "value")
    return table


def _dir_bytes(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file())


async def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.01)


async def keys_case(keys: int, checkpoints: int, storage_parent: str, top: int) -> dict[str, Any]:
    """Part 2 in this process: fill, checkpoint, restore."""
    parent = tempfile.mkdtemp(prefix="bench-keys-", dir=storage_parent)
    try:
        result = await _checkpoint_phase(keys, checkpoints, os.path.join(parent, "run"), top)
        # the first job is gone (its state freed) before the restore starts
        result.update(await _restore_phase(keys, result.pop("location"), parent))
        result["rss_mb"] = _peak_rss_mb()
        return result
    finally:
        shutil.rmtree(parent, ignore_errors=True)


async def _checkpoint_phase(
    keys: int, checkpoints: int, directory: str, top: int
) -> dict[str, Any]:
    from streamrt import StreamExecutionEnvironment
    from streamrt.errors import JobCancelledError

    env = StreamExecutionEnvironment(parallelism=1)
    env.enable_checkpointing(3_600_000, storage=directory)  # only the checkpoints we trigger
    _build_keys_pipeline(env, keys)
    job = env.create_job("1M keys")
    runner = asyncio.create_task(job.run())
    fill_start = time.perf_counter()
    await _wait_until(lambda: bool(job.tasks) and job.running_tasks == len(job.tasks), 30, "start")
    task = _keyed_task(job)
    table = _count_table(task)
    await _wait_until(lambda: len(table) >= keys, 600, f"{keys} keys in state")
    fill_seconds = time.perf_counter() - fill_start
    records_in = task.chain.head_context.metrics.records_in
    storage = job.coordinator.storage if job.coordinator else None
    assert storage is not None

    timings: dict[str, float] = {}
    profiler: cProfile.Profile | None = None
    snapshot = task._snapshot  # noqa: SLF001 - timed on this instance only
    snapshot_state = task.chain.snapshot_state
    write = storage.write

    def timed_snapshot(barrier: Any) -> bytes:
        start, cpu = time.perf_counter(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        try:
            blob: bytes = snapshot(barrier)
        finally:
            if profiler is not None:
                profiler.disable()
            timings["snapshot"] = time.perf_counter() - start
            timings["snapshot_cpu"] = time.thread_time() - cpu
        return blob

    def timed_snapshot_state() -> Any:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return snapshot_state()
        finally:
            timings["copy"] = time.perf_counter() - start
            timings["copy_cpu"] = time.thread_time() - cpu

    def timed_write(*args: Any) -> str:
        start = time.perf_counter()
        try:
            return write(*args)
        finally:
            timings["write"] = time.perf_counter() - start

    task._snapshot = timed_snapshot  # noqa: SLF001
    task.chain.snapshot_state = timed_snapshot_state
    storage.write = timed_write  # type: ignore[method-assign,assignment]

    heartbeat = _Heartbeat()
    beating = asyncio.create_task(heartbeat.run())
    rows = []
    location = None
    for index in range(checkpoints):
        profiled = index == checkpoints - 1 and checkpoints > 1
        if profiled:
            profiler = cProfile.Profile()
        before, cpu_before = time.perf_counter(), time.thread_time()
        in_before = records_in.count
        await asyncio.sleep(1.0)  # the baseline window
        start = time.perf_counter()
        baseline_rate = (records_in.count - in_before) / (start - before)
        # the loop is never idle while records flow: CPU/wall is the share of a core we got
        cpu_share = (time.thread_time() - cpu_before) / (start - before)
        timings.clear()
        completed = await job.checkpoint()
        end = time.perf_counter()
        await asyncio.sleep(0.01)  # a wake-up after the end closes the window
        location = completed.location
        assert location is not None
        rows.append(
            {
                "id": completed.checkpoint_id,
                "profiled": profiled,
                "wall": end - start,
                "duration": job.statistics().checkpoints.last_duration_seconds,
                "encoded": completed.size_bytes,
                "on_disk": _dir_bytes(location),
                **timings,
                "stall": heartbeat.max_gap(start, end),
                "baseline_stall": heartbeat.max_gap(before, start),
                "rate": baseline_rate,
                "cpu_share": cpu_share,
                "keys": len(table),
            }
        )
    beating.cancel()
    profile_lines: list[str] = []
    if profiler is not None:
        stream = _Lines()
        stats = pstats.Stats(profiler, stream=stream)  # type: ignore[arg-type]
        stats.strip_dirs().sort_stats("tottime").print_stats(top)
        profile_lines = [
            line
            for line in stream.lines()
            if not line.lstrip().startswith(("Ordered by", "List reduced"))
        ]
    job.cancel()
    with contextlib.suppress(JobCancelledError):
        await runner
    return {
        "keys": keys,
        "fill_seconds": fill_seconds,
        "checkpoints": rows,
        "profile": profile_lines,
        "location": location,
    }


async def _restore_phase(keys: int, location: str, parent: str) -> dict[str, Any]:
    """A new job of the same pipeline from the checkpoint at ``location``, until it runs."""
    from streamrt import StreamExecutionEnvironment
    from streamrt.errors import JobCancelledError
    from streamrt.runtime.status import ExecutionStatus

    env = StreamExecutionEnvironment(parallelism=1)
    env.enable_checkpointing(3_600_000, storage=os.path.join(parent, "restored"))
    _build_keys_pipeline(env, keys)
    start, cpu = time.perf_counter(), time.thread_time()
    job = env.create_job("1M keys", restore_from=location)
    loaded = time.perf_counter()
    runner = asyncio.create_task(job.run())

    def running() -> bool:
        tasks = job.tasks
        return (
            bool(tasks)
            and all(t.status is ExecutionStatus.RUNNING for t in tasks)
            and job.readiness()[0]
        )

    await _wait_until(running, 120, "the restored job to run")
    ran, ran_cpu = time.perf_counter(), time.thread_time()
    restored_keys = len(_count_table(_keyed_task(job)))
    job.cancel()
    with contextlib.suppress(JobCancelledError):
        await runner
    return {
        "restore_load": loaded - start,
        "restore_running": ran - start,
        "restore_cpu": ran_cpu - cpu,
        "restored_keys": restored_keys,
    }


class _Lines:
    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> None:
        self._parts.append(text)

    def lines(self) -> list[str]:
        return [line for line in "".join(self._parts).splitlines() if line.strip()]


def _peak_rss_mb() -> float:
    return rss_mb("VmHWM")  # not ru_maxrss: a child inherits its parent's


# -- the parent ---------------------------------------------------------------------------------
def _child(args: argparse.Namespace, *extra: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.checkpoint_cost",
        "--storage-parent",
        args.storage_parent,
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"child failed ({done.returncode}): {shlex.join(command)}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


def part1(args: argparse.Namespace) -> None:
    with kafka_bootstrap("noida") as (bootstrap, broker):
        source = f"orders-{uuid.uuid4().hex[:8]}"
        asyncio.run(fill(bootstrap, source, args.records))
        results: dict[str, list[dict[str, Any]]] = {case: [] for case in ETL_CASES}
        for round_index in range(args.rounds):
            order = list(ETL_CASES) if round_index % 2 == 0 else list(reversed(ETL_CASES))
            for case in order:
                results[case].append(
                    _child(
                        args,
                        "--case",
                        case,
                        "--bootstrap",
                        bootstrap,
                        "--source",
                        source,
                        "--records",
                        str(args.records),
                    )
                )
    written = {r["written"] for rs in results.values() for r in rs}
    if len(written) != 1:
        raise SystemExit(f"the cases wrote different record counts: {written}")
    print()
    print(
        f"Part 1: Kafka ETL job, {args.records} records over {PARTITIONS} partitions "
        f"({written.pop()} written), p=1, object reuse off, checkpoint every "
        f"{CHECKPOINT_INTERVAL_MS} ms, {args.rounds} rounds (order alternating), median; "
        f"broker: {'noida (embedded)' if broker else bootstrap}"
    )
    print(
        f"{'case':32} {'records/s':>10} {'spread':>15} {'ratio':>6} {'CPU s/run':>10} "
        f"{'chk/run':>8} {'last chk':>9} {'chk size':>9} {'peak RSS':>9}"
    )
    base = statistics.median(r["rate"] for r in results["memory"])
    for case, label in ETL_CASES.items():
        rs = results[case]
        rate = statistics.median(r["rate"] for r in rs)
        print(
            f"{label:32} {rate:>10,.0f} {_spread([r['rate'] for r in rs]):>15} "
            f"{rate / base:>6.3f} {statistics.median(r['cpu_seconds'] for r in rs):>10.1f} "
            f"{statistics.median(r['checkpoints'] for r in rs):>8.0f} "
            f"{statistics.median(r['last_duration'] for r in rs) * 1000:>6.1f} ms "
            f"{statistics.median(r['last_size'] for r in rs):>7,.0f} B "
            f"{max(r['peak_rss_mb'] for r in rs):>6.0f} MB"
        )
    ratios = [
        b["rate"] / a["rate"] for a, b in zip(results["memory"], results["directory"], strict=True)
    ]
    cpu_ratios = [
        b["cpu_seconds"] / a["cpu_seconds"]
        for a, b in zip(results["memory"], results["directory"], strict=True)
    ]
    failed = sum(r["failed"] for rs in results.values() for r in rs)
    print(
        f"per-round ratio B/A: {', '.join(f'{r:.3f}' for r in ratios)}; "
        f"median {statistics.median(ratios):.3f} (target >= 0.95); failed checkpoints: {failed}"
    )
    print(
        f"per-round CPU time (user+sys of the run's process) B/A: "
        f"{', '.join(f'{r:.3f}' for r in cpu_ratios)}; median {statistics.median(cpu_ratios):.3f}"
    )
    kept = {len(r["kept"]) for r in results["directory"]}
    print(f"chk-<n> directories left in B's directory at the end of a run: {sorted(kept)}")


def part2(args: argparse.Namespace) -> None:
    result = _child(
        args,
        "--case",
        "keys",
        "--keys",
        str(args.keys),
        "--checkpoints",
        str(args.checkpoints),
        "--top",
        str(args.top),
    )
    rows = result["checkpoints"]
    measured = [r for r in rows if not r["profiled"]] or rows
    print()
    print(
        f"Part 2: {result['keys']:,} keys, one int each (keyed process function, ValueState), "
        f"p=1, records flowing during checkpoints; state filled in {result['fill_seconds']:.1f} s; "
        f"peak RSS {result['rss_mb']:.0f} MB"
    )
    print(
        "wall/cpu: wall time and the event-loop thread's CPU time (thread_time); snapshot = "
        "the keyed task's synchronous _snapshot = copy (state_dict) + encode (pickle, crc32, "
        "header); write = storage.write in the worker thread; loop stall = longest gap of a "
        "1 ms heartbeat during the checkpoint, baseline = the same in the 1 s before it; "
        "core = share of a core the loop thread got in that second"
    )
    print(
        f"{'chk':>4} {'wall':>7} {'duration':>8} {'encoded':>11} {'on disk':>11} "
        f"{'snapshot wall/cpu':>17} {'copy wall/cpu':>13} {'encode':>7} {'write':>7} "
        f"{'loop stall':>10} {'baseline':>8} {'records/s':>9} {'core':>5}"
    )
    ms = 1000
    for r in rows:
        print(
            f"{r['id']:>4} {r['wall'] * ms:>4.0f} ms {r['duration'] * ms:>5.0f} ms "
            f"{r['encoded']:>9,} B {r['on_disk']:>9,} B "
            f"{r['snapshot'] * ms:>8.0f}/{r['snapshot_cpu'] * ms:>4.0f} ms "
            f"{r['copy'] * ms:>5.0f}/{r['copy_cpu'] * ms:>4.0f} ms "
            f"{(r['snapshot'] - r['copy']) * ms:>4.0f} ms {r['write'] * ms:>4.0f} ms "
            f"{r['stall'] * ms:>7.0f} ms {r['baseline_stall'] * ms:>5.0f} ms {r['rate']:>9,.0f} "
            f"{r['cpu_share']:>5.2f}" + ("  (cProfile on)" if r["profiled"] else "")
        )

    def med(field: str) -> float:
        return float(statistics.median(r[field] for r in measured))

    from streamrt.runtime.config import JobConfig

    batch = JobConfig().channel_buffer_size  # records per channel buffer: one input batch
    batch_ms = batch / med("rate") * ms
    print(
        f"median of {len(measured)} unprofiled: checkpoint {med('wall'):.2f} s wall, "
        f"{med('duration'):.2f} s duration (target < 2 s), {med('encoded'):,.0f} B encoded, "
        f"{med('on_disk'):,.0f} B on disk, storage write {med('write') * ms:.0f} ms"
    )
    print(
        f"record path blocked in _snapshot: {med('snapshot') * ms:.0f} ms wall / "
        f"{med('snapshot_cpu') * ms:.0f} ms CPU (copy {med('copy') * ms:.0f} / "
        f"{med('copy_cpu') * ms:.0f} ms, encode {(med('snapshot') - med('copy')) * ms:.0f} ms "
        f"wall); longest loop stall {med('stall') * ms:.0f} ms against "
        f"{med('baseline_stall') * ms:.0f} ms in the second before"
    )
    print(
        f"one batch ({batch} records, a channel buffer) takes {batch_ms:.1f} ms at "
        f"{med('rate'):,.0f} records/s: the _snapshot stall is "
        f"{med('snapshot') / batch_ms * ms:.0f} batches by wall time, "
        f"{med('snapshot_cpu') / batch_ms * ms:.0f} by CPU time (target <= 1)"
    )
    print(
        f"restore: create_job(restore_from=chk dir) {result['restore_load'] * ms:.0f} ms "
        f"(read + crc), until every task runs {result['restore_running'] * ms:.0f} ms wall / "
        f"{result['restore_cpu'] * ms:.0f} ms CPU (same process, after cancelling the first "
        f"job); {result['restored_keys']:,} keys restored"
    )
    if result["profile"]:
        print(f"cProfile of the profiled checkpoint's _snapshot (top {args.top} by own time):")
        for line in result["profile"]:
            print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=500_000, help="part 1 records per run")
    parser.add_argument("--rounds", type=int, default=3, help="part 1 rounds (A and B each)")
    parser.add_argument("--keys", type=int, default=1_000_000, help="part 2 distinct keys")
    parser.add_argument(
        "--checkpoints", type=int, default=4, help="part 2 checkpoints (the last one profiled)"
    )
    parser.add_argument("--top", type=int, default=12, help="profile entries to print")
    parser.add_argument("--only", choices=["etl", "keys"], help="run one part only")
    parser.add_argument(
        "--storage-parent",
        default=tempfile.gettempdir(),
        help="where the temporary checkpoint directories go (default: %(default)s)",
    )
    parser.add_argument("--case", choices=[*ETL_CASES, "keys"], help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case == "keys":  # a child process: part 2, as JSON
        import uvloop  # what env.execute uses

        result = uvloop.run(keys_case(args.keys, args.checkpoints, args.storage_parent, args.top))
        print(json.dumps(result))
        return
    if args.case:  # a child process: one run of part 1, as JSON
        result = run_etl_case(
            args.case, args.bootstrap, args.source, args.records, args.storage_parent
        )
        print(json.dumps(result))
        return

    print("$ " + shlex.join(["python", "-m", "bench.checkpoint_cost", *sys.argv[1:]]))
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} at start; "
        f"checkpoint directories under {args.storage_parent}"
    )
    started = time.perf_counter()
    if args.only in (None, "etl"):
        part1(args)
    if args.only in (None, "keys"):
        part2(args)
    print()
    print(
        f"total {time.perf_counter() - started:.0f} s; load average at the end "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
