"""Memory of the Kafka ETL job: peak RSS at two volumes, and with a sink 10x slower.

The job is the one in ``bench.kafka_throughput``: ``KafkaSource(bounded) -> json parse ->
keep if amount > 50 -> enrich -> json dumps -> KafkaSink`` at p=1 with checkpoints every second,
at the source's default consumer settings. Per broker (Tansu and noida, embedded, started here;
or ``KAFKA_BOOTSTRAP``) and per volume (``--records``, default 0.5 M and 5 M), the parent fills
an 8-partition topic and runs, each in a fresh process, the raw aiokafka loop (aiokafka's
defaults) and the job; each child samples its own RSS every second (``/proc/self/status``) and
reports its peak (``VmHWM``). Then the slow case: the same job on the largest topic with a
sink that takes at most a tenth of the records/s the job reached, run for ``--slow-seconds`` and
cancelled; its RSS must stay flat (back-pressure reaches the fetcher).

Target (issue 13): peak RSS(5 M) <= 1.2 x peak RSS(0.5 M), measured on a broker that honours
fetch limits (Tansu honours ``fetch_max_bytes``; noida answers every fetch with everything up
to the end of the partition, so a client's memory there follows the data, whatever it asks).

    python -m bench.memory [--records 500000 5000000] [--brokers tansu noida] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

from bench.brokers import kafka_bootstrap
from bench.kafka_cases import PARTITIONS, create_topic, rss_mb
from bench.kafka_throughput import etl_pipeline, fill, raw_loop, stdlib_dumps

CASES = {
    "loop": "raw aiokafka loop",
    "streamrt": "streamrt job (defaults)",
    "streamrt-50m": "streamrt, fetch_max_bytes 50 MiB",
    "streamrt-rt40": "streamrt, request timeout 40 s",
}
#: the consumer settings of each streamrt case (``consumer_settings``)
SETTINGS: dict[str, dict[str, int]] = {
    "streamrt": {},
    "slow": {},
    # aiokafka's own default, which the source used before issue 13
    "streamrt-50m": {"fetch_max_bytes": 50 * 1024 * 1024},
    # aiokafka's default (streamrt's consumer uses 15 s): noida's whole-partition answers at
    # 5 M records can take longer than 15 s on a loaded machine
    "streamrt-rt40": {"request_timeout_ms": 40_000},
}
SLOW = "streamrt job, sink 10x slower"
#: seconds between RSS samples
SAMPLE_S = 1.0


#: the last record of each partition: filtered out by ``keep``
END_RECORD = json.dumps({"order_id": -1, "amount": 0.0}).encode()


async def fill_to_end(bootstrap: str, topic: str, records: int) -> None:
    """``bench.kafka_throughput.fill``, then one more record per partition, alone in its batch.

    Tansu reports a partition's end offset as its last batch's base offset + 1, so a bounded
    source stops a whole (512 KB) batch short; a last batch of one record makes that the true
    end. ``keep`` drops these records, so every case writes the same records.
    """
    from aiokafka import AIOKafkaProducer

    await fill(bootstrap, topic, records)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition in range(PARTITIONS):  # awaited one by one: one batch each
            await (await producer.send(topic, END_RECORD, partition=partition))
    finally:
        await producer.stop()


class RssSampler:
    """Samples this process's RSS every ``SAMPLE_S`` in a thread (the event loop may be busy)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.samples.append(round(rss_mb(), 1))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


class ThrottledSink:
    """A sink that takes at most ``rate`` records/s, in front of another sink."""

    def __init__(self, inner: Any, rate: float) -> None:
        self._inner = inner
        self._rate = rate

    def create_writer(self, context: Any) -> ThrottledWriter:
        return ThrottledWriter(self._inner.create_writer(context), self._rate)


class ThrottledWriter:
    """Says it is full once it is ahead of ``rate``; its flush waits until it is not."""

    def __init__(self, inner: Any, rate: float) -> None:
        self._inner = inner
        self._rate = rate
        self._slack = max(1.0, rate / 20)  # records it may run ahead: 50 ms worth
        self._start = 0.0
        self.written = 0

    async def open(self) -> None:
        await self._inner.open()
        self._start = time.monotonic()

    def write(self, value: Any, timestamp: int | None) -> None:
        self.written += 1
        self._inner.write(value, timestamp)

    def _ahead_s(self) -> float:
        return (self.written - self._slack) / self._rate - (time.monotonic() - self._start)

    @property
    def available(self) -> bool:
        return bool(self._inner.available) and self._ahead_s() <= 0

    async def flush(self, end_of_input: bool) -> None:
        ahead = self._ahead_s()
        if ahead > 0 and not end_of_input:
            await asyncio.sleep(ahead)
        await self._inner.flush(end_of_input)

    def state_dict(self) -> dict[str, Any]:
        return dict(self._inner.state_dict())

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        await self._inner.notify_checkpoint_complete(checkpoint_id)

    async def close(self) -> None:
        await self._inner.close()


def build_job(
    bootstrap: str, source: str, target: str, sink_rate: float | None, settings: dict[str, int]
) -> Any:
    """The ETL job of ``bench.kafka_throughput`` (reuse off), optionally with a slow sink."""
    from streamrt import StreamExecutionEnvironment
    from streamrt.connectors.kafka import KafkaSink

    env = StreamExecutionEnvironment(parallelism=1)
    env.enable_checkpointing(1_000)
    sink: Any = KafkaSink(bootstrap_servers=bootstrap, topic=target)
    if sink_rate is not None:
        sink = ThrottledSink(sink, sink_rate)
    etl_pipeline(env, bootstrap, source, target, sink, consumer_settings=settings)
    return env.create_job("memory bench")


async def run_job(bootstrap: str, source: str, target: str, settings: dict[str, int]) -> int:
    result = await build_job(bootstrap, source, target, None, settings).run()
    return int(result.statistics.operator("out").records_out)


async def run_slow(bootstrap: str, source: str, target: str, rate: float, seconds: float) -> int:
    """Run the job with a throttled sink for ``seconds``, then cancel it; records written."""
    from streamrt import JobCancelledError

    job = build_job(bootstrap, source, target, rate, SETTINGS["slow"])
    running = asyncio.ensure_future(job.run())
    done, _ = await asyncio.wait([running], timeout=seconds)
    if done:  # finished (or failed) early: the topic was too small for the time asked
        return int(running.result().statistics.operator("out").records_out)
    job.cancel()
    with contextlib.suppress(JobCancelledError):
        await running
    written = job.statistics().operator("out").records_out
    return int(written)


def run_case(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    import uvloop

    target = f"out-{uuid.uuid4().hex[:8]}"
    records = args.records[0]

    async def timed() -> tuple[float, int]:
        await create_topic(args.bootstrap, target, PARTITIONS)
        start = time.perf_counter()
        if args.case == "loop":
            written = await raw_loop(
                args.bootstrap, args.source, target, records + PARTITIONS, json.loads, stdlib_dumps
            )
        elif args.case != "slow":
            settings = SETTINGS[args.case]
            written = await run_job(args.bootstrap, args.source, target, settings)
        else:
            rate, seconds = args.sink_rate, args.slow_seconds
            written = await run_slow(args.bootstrap, args.source, target, rate, seconds)
        return time.perf_counter() - start, written

    with RssSampler() as sampler:
        seconds, written = uvloop.run(timed())
    return {
        "case": args.case,
        "seconds": seconds,
        "written": written,
        "peak_rss_mb": rss_mb("VmHWM"),
        "samples": sampler.samples,
    }


def child(case: str, bootstrap: str, source: str, records: int, *extra: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.memory", "--case", case, "--bootstrap", bootstrap]
    command += ["--source", source, "--records", str(records), *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"case {case} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def over_time(samples: list[float]) -> str:
    """RSS at 5 s, 15 s, 30 s, 60 s and at the end, as far as the run lasted."""
    marks = [(f"{s}s", samples[s - 1]) for s in (5, 15, 30, 60) if len(samples) >= s]
    if samples:
        marks.append(("end", samples[-1]))
    return " ".join(f"{name}={mb:.0f}" for name, mb in marks)


def measure_broker(kind: str, args: argparse.Namespace) -> None:
    with kafka_bootstrap(kind) as (bootstrap, broker):  # type: ignore[arg-type]
        name = f"{kind} (embedded)" if broker else bootstrap
        print(f"\n## broker: {name}; {PARTITIONS} partitions; {args.rounds} round(s)", flush=True)
        print(
            f"{'case':34} {'records':>9} {'seconds':>8} {'rec/s':>8} {'written':>9} "
            f"{'peak RSS':>9}  RSS over time (MB)"
        )
        peaks: dict[tuple[str, int], float] = {}
        rates: list[float] = []
        topics: dict[int, str] = {}
        for records in args.records:
            topic = f"memory-{uuid.uuid4().hex[:8]}"
            began = time.perf_counter()
            asyncio.run(fill_to_end(bootstrap, topic, records))
            print(
                f"(filled {records:,} records in {time.perf_counter() - began:.0f} s)", flush=True
            )
            topics[records] = topic
            for _ in range(args.rounds):
                for case in args.cases:
                    label = CASES[case]
                    r = child(case, bootstrap, topic, records)
                    rate = records / r["seconds"]
                    if case == "streamrt":
                        rates.append(rate)
                    key = (case, records)
                    peaks[key] = max(peaks.get(key, 0.0), r["peak_rss_mb"])
                    print(
                        f"{label:34} {records:>9,} {r['seconds']:>8.1f} {rate:>8,.0f} "
                        f"{r['written']:>9,} {r['peak_rss_mb']:>6.0f} MB  "
                        f"{over_time(r['samples'])}",
                        flush=True,
                    )
        small, large = min(args.records), max(args.records)
        for case in args.cases:
            label = CASES[case]
            ratio = peaks[(case, large)] / peaks[(case, small)]
            print(f"peak RSS ratio {large:,} / {small:,}, {label}: {ratio:.2f}")
        if args.slow_seconds > 0 and rates:
            sink_rate = min(rates) / 10
            r = child(
                "slow",
                bootstrap,
                topics[large],
                large,
                "--sink-rate",
                str(sink_rate),
                "--slow-seconds",
                str(args.slow_seconds),
            )
            print(
                f"{SLOW} ({sink_rate:,.0f} rec/s into the sink, {large:,}-record topic, "
                f"cancelled after {args.slow_seconds:.0f} s): wrote {r['written']:,}, "
                f"peak RSS {r['peak_rss_mb']:.0f} MB; every {SAMPLE_S:.0f} s: "
                f"{' '.join(f'{mb:.0f}' for mb in r['samples'])}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, nargs="+", default=[500_000, 5_000_000])
    parser.add_argument(
        "--brokers", nargs="+", choices=["tansu", "noida"], default=["tansu", "noida"]
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--cases", nargs="+", choices=list(CASES), default=["loop", "streamrt", "streamrt-50m"]
    )
    parser.add_argument("--slow-seconds", type=float, default=30.0)
    parser.add_argument("--case", choices=[*CASES, "slow"])
    parser.add_argument("--bootstrap")
    parser.add_argument("--source")
    parser.add_argument("--sink-rate", type=float)
    args = parser.parse_args()
    if args.case:  # a child process: one measurement, as JSON
        print(json.dumps(run_case(args)))
        return
    for kind in args.brokers:
        measure_broker(kind, args)


if __name__ == "__main__":
    main()
