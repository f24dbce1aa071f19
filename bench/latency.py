"""End-to-end latency at a fixed rate, and the CPU an idle or lightly loaded job uses.

A producer writes records carrying their send time (``seq,time_ns``) at a fixed rate to a fresh
4-partition topic; a pipeline in a child process copies them to a fresh output topic; a consumer
in this process records receive time - send time for every record sent after the warm-up. The
pipelines, one child process each, in one run:

* ``raw``: the reference, a hand-written aiokafka loop (``getmany`` -> ``send`` per record);
* ``streamrt``: ``KafkaSource -> map -> KafkaSink`` at parallelism 1 (one chain, no channel),
  checkpoints every second, ``buffer_timeout_ms`` 0 / 10 / 100, the sink's default ``linger_ms``;
* ``streamrt, channel``: the same with the map not chained (a local channel between source and
  map), where ``buffer_timeout_ms`` bounds the hop;
* ``streamrt, linger_ms=0``: the sink sends after every input batch;
* ``streamrt, linger_ms=-1``: the sink sends only when full or at a checkpoint (issue 9's case).

Besides send -> received, the pipeline reports its shares: ``in`` (send -> read by the
pipeline: the producer, the broker, the pipeline's fetch) and ``inside`` (read -> handed to the
producer by the pipeline: the chain, channel hops, the sink's linger).

Then CPU: each pipeline (raw loop and streamrt job) idle with no input, and at 1,000 records/s,
read from ``/proc/<pid>/stat`` of the child over a fixed window (and the broker's, beside it).

The broker is Tansu (an idle aiokafka consumer on noida spins at a core, so noida distorts both
CPU and latency; see kafka-brokers.md), or ``KAFKA_BOOTSTRAP``.

    python -m bench.latency [--rate 5000] [--warmup 3] [--seconds 10] [--cpu-seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.brokers import kafka_bootstrap

PARTITIONS = 4
nan = float("nan")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Case:
    label: str
    args: list[str]


LATENCY_CASES = [
    Case("raw aiokafka loop (reference)", ["--pipeline", "raw"]),
    Case("streamrt, buffer timeout 0 ms", ["--pipeline", "streamrt", "--buffer-timeout", "0"]),
    Case("streamrt, buffer timeout 10 ms", ["--pipeline", "streamrt", "--buffer-timeout", "10"]),
    Case("streamrt, buffer timeout 100 ms", ["--pipeline", "streamrt", "--buffer-timeout", "100"]),
    Case(
        "streamrt, buffer timeout 10 ms, linger_ms=0",
        ["--pipeline", "streamrt", "--buffer-timeout", "10", "--linger", "0"],
    ),
    Case(
        "streamrt, channel, buffer timeout 10 ms",
        ["--pipeline", "streamrt", "--buffer-timeout", "10", "--channel"],
    ),
    Case(
        "streamrt, channel, buffer timeout 100 ms",
        ["--pipeline", "streamrt", "--buffer-timeout", "100", "--channel"],
    ),
    Case(
        "streamrt, linger_ms=-1 (before issue 9)",
        ["--pipeline", "streamrt", "--buffer-timeout", "10", "--linger", "-1"],
    ),
]


# -- the child: one pipeline, until SIGTERM ------------------------------------------------------
class Shares:
    """Where a record's time goes inside the pipeline's process.

    ``inbound`` (the first operator) notes send -> read by the pipeline and appends the read
    time to the value; ``outbound`` (the sink's serializer, which runs when the sink sends)
    notes read -> sent, the pipeline's own share, and strips the read time again.
    """

    def __init__(self, warm: int) -> None:
        self.warm = warm
        self.inbound_ms: list[float] = []
        self.inside_ms: list[float] = []

    def inbound(self, value: bytes) -> bytes:
        now = time.time_ns()
        seq, sent_ns = value.split(b",")
        if int(seq) >= self.warm:
            self.inbound_ms.append((now - int(sent_ns)) / 1e6)
        return b"%s,%d" % (value, now)

    def outbound(self, value: bytes) -> bytes:
        head, read_ns = value.rsplit(b",", 1)
        if int(head.split(b",", 1)[0]) >= self.warm:
            self.inside_ms.append((time.time_ns() - int(read_ns)) / 1e6)
        return head

    def report(self) -> None:
        inbound = sorted(self.inbound_ms) or [float("nan")]
        inside = sorted(self.inside_ms) or [float("nan")]
        shares = {
            "in_p50": percentile(inbound, 0.5),
            "in_p99": percentile(inbound, 0.99),
            "inside_p50": percentile(inside, 0.5),
            "inside_p99": percentile(inside, 0.99),
        }
        print(json.dumps(shares))


async def raw_pipeline(
    bootstrap: str, source: str, target: str, stop: asyncio.Event, args: argparse.Namespace
) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    wait = {} if args.fetch_wait is None else {"fetch_max_wait_ms": args.fetch_wait}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **wait)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        partitions = [TopicPartition(source, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        print("ready", flush=True)
        shares = Shares(args.warm)
        inbound, outbound = shares.inbound, shares.outbound
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=100, max_records=2_000)
            for messages in fetched.values():
                for message in messages:
                    await producer.send(target, outbound(inbound(message.value)))
        shares.report()
    finally:
        await consumer.stop()
        await producer.stop()


async def streamrt_pipeline(
    bootstrap: str, source: str, target: str, stop: asyncio.Event, args: argparse.Namespace
) -> None:
    from streamrt import DataStream, StreamExecutionEnvironment
    from streamrt.connectors.kafka import KafkaSink, KafkaSource

    env = StreamExecutionEnvironment(parallelism=1, buffer_timeout_ms=args.buffer_timeout)
    env.enable_checkpointing(1_000)
    wait = {} if args.fetch_wait is None else {"fetch_timeout_ms": args.fetch_wait}
    records: DataStream[Any] = env.from_source(
        KafkaSource(
            bootstrap_servers=bootstrap, topics=[source], starting_offsets="earliest", **wait
        ),
        source_name="in",
    ).uid("in")
    stream = records.map((shares := Shares(args.warm)).inbound)
    if args.channel:
        stream = stream.disable_chaining()
    sink_args: dict[str, Any] = {} if args.linger is None else {"linger_ms": args.linger}
    stream.sink_to(
        KafkaSink(
            bootstrap_servers=bootstrap,
            topic=target,
            value_serializer=shares.outbound,  # runs when the sink sends
            **sink_args,
        )
    )
    job = env.create_job("latency")
    running = asyncio.create_task(job.run())
    while not any(
        c.name == "kafka_source_assigned_partitions" and c.value == PARTITIONS
        for c in job.statistics().connectors
    ):
        if running.done():
            await running  # raises what went wrong
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    await stop.wait()
    job.stop()
    await running
    shares.report()


def child(args: argparse.Namespace) -> None:
    import uvloop

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        if args.pipeline == "raw":
            await raw_pipeline(args.bootstrap, args.source, args.target, stop, args)
        else:
            await streamrt_pipeline(args.bootstrap, args.source, args.target, stop, args)

    uvloop.run(main())


# -- the parent: topics, producer, consumer, CPU ---------------------------------------------------
async def create_topics(bootstrap: str, *names: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=PARTITIONS, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


class Pipeline:
    """A pipeline in a child process, from ``ready`` to SIGTERM."""

    def __init__(self, bootstrap: str, case: Case, extra: list[str]) -> None:
        self.source = f"lat-in-{uuid.uuid4().hex[:8]}"
        self.target = f"lat-out-{uuid.uuid4().hex[:8]}"
        self.bootstrap = bootstrap
        self.case = case
        self.extra = extra
        self.proc: asyncio.subprocess.Process | None = None
        self.report: dict[str, float] = {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        await create_topics(self.bootstrap, self.source, self.target)
        self.proc = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "bench.latency", "--child", "--bootstrap", self.bootstrap],
            *["--source", self.source, "--target", self.target, *self.case.args, *self.extra],
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            await self.stop()
            raise SystemExit(f"{self.case.label}: the pipeline did not start ({line!r})")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                out, _ = await asyncio.wait_for(self.proc.communicate(), 30)
                code = self.proc.returncode
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
                raise SystemExit(f"{self.case.label}: the pipeline did not stop") from None
            if code != 0:
                raise SystemExit(f"{self.case.label}: the pipeline exited with {code}")
            lines = out.decode().strip().splitlines()
            if lines:
                self.report = json.loads(lines[-1])


async def produce(
    bootstrap: str, topic: str, rate: int, seconds: float, linger_ms: int
) -> tuple[int, float]:
    """Write ``rate`` records/s for ``seconds``; each value is ``seq,send_time_ns``."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=linger_ms)
    await producer.start()
    try:
        start = time.perf_counter()
        sent = 0
        total = int(rate * seconds)
        while sent < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            while sent < due:
                await producer.send(topic, b"%d,%d" % (sent, time.time_ns()))
                sent += 1
            await asyncio.sleep(0.001)
        await producer.flush()
        return sent, time.perf_counter() - start
    finally:
        await producer.stop()


async def consume(
    bootstrap: str,
    topic: str,
    expected: int,
    fetch_wait_ms: int,
    ready: asyncio.Event,
    done: asyncio.Event,
) -> dict[int, float]:
    """Latency in ms by sequence number, until ``expected`` arrived or 10 s after ``done``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=fetch_wait_ms
    )
    await consumer.start()
    latencies: dict[int, float] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ready.set()
        deadline: float | None = None
        while len(latencies) < expected:
            if done.is_set() and deadline is None:
                deadline = time.monotonic() + 10
            if deadline is not None and time.monotonic() > deadline:
                break
            fetched = await consumer.getmany(timeout_ms=100)
            now = time.time_ns()
            for messages in fetched.values():
                for message in messages:
                    seq, sent_ns = message.value.split(b",")
                    latencies[int(seq)] = (now - int(sent_ns)) / 1e6
        return latencies
    finally:
        await consumer.stop()


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def measure_latency(
    bootstrap: str, broker_pid: int | None, case: Case, args: argparse.Namespace
) -> dict[str, Any]:
    warm = int(args.rate * args.warmup)
    extra = ["--fetch-wait", str(args.fetch_wait_ms), "--warm", str(warm)]
    pipeline = Pipeline(bootstrap, case, extra)
    await pipeline.start()
    try:
        ready, done = asyncio.Event(), asyncio.Event()
        total = int(args.rate * (args.warmup + args.seconds))
        consumer = asyncio.create_task(
            consume(bootstrap, pipeline.target, total, args.fetch_wait_ms, ready, done)
        )
        await ready.wait()
        cpu0, broker0 = cpu_seconds(pipeline.pid), broker_cpu(broker_pid)
        sent, took = await produce(
            bootstrap, pipeline.source, args.rate, args.warmup + args.seconds, args.linger_ms
        )
        cpu, broker = cpu_seconds(pipeline.pid) - cpu0, broker_cpu(broker_pid) - broker0
        done.set()
        latencies = await consumer
    finally:
        await pipeline.stop()
    measured = sorted(v for seq, v in latencies.items() if seq >= warm)
    lost = (sent - warm) - len(measured)
    return {
        "case": case.label,
        "rate": sent / took,
        "p50": percentile(measured, 0.50),
        "p99": percentile(measured, 0.99),
        "max": measured[-1],
        "samples": len(measured),
        "missing": lost,
        "cpu": cpu / took,
        "broker_cpu": broker / took,
        **pipeline.report,
    }


async def measure_cpu(
    bootstrap: str, broker_pid: int | None, case: Case, rate: int, seconds: float
) -> dict[str, Any]:
    pipeline = Pipeline(bootstrap, case, [])
    await pipeline.start()
    try:
        await asyncio.sleep(2)  # past start-up work
        pid = pipeline.pid
        cpu0, broker0, wall0 = cpu_seconds(pid), broker_cpu(broker_pid), time.monotonic()
        if rate:
            await produce(bootstrap, pipeline.source, rate, seconds, 0)
        else:
            await asyncio.sleep(seconds)
        wall = time.monotonic() - wall0
        cpu, broker = cpu_seconds(pid) - cpu0, broker_cpu(broker_pid) - broker0
    finally:
        await pipeline.stop()
    return {"case": case.label, "rate": rate, "cpu": cpu / wall, "broker_cpu": broker / wall}


def broker_cpu(pid: int | None) -> float:
    return cpu_seconds(pid) if pid is not None else 0.0


async def parent(args: argparse.Namespace) -> None:
    with kafka_bootstrap(args.broker) as (bootstrap, broker):
        where = f"{args.broker} (embedded)" if broker else bootstrap
        print(
            f"latency at {args.rate:,} records/s over {PARTITIONS} partitions, "
            f"{args.seconds:g} s measured after {args.warmup:g} s warm-up; every consumer's "
            f"fetch wait {args.fetch_wait_ms} ms; broker: {where}"
        )
        print(
            "(send -> received: p50/p99/max; in: send -> read by the pipeline; inside: read -> "
            "sent by the pipeline; cpu: the pipeline's process and the broker's, 1.0 = one core)"
        )
        print(
            f"{'case':42} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'in p50':>7} "
            f"{'in p99':>7} {'inside':>7} {'inside':>7} {'cpu':>5} {'broker':>6} {'samples':>7}"
        )
        print(f"{'':42} {'':>7} {'':>7} {'':>7} {'':>7} {'':>7} {'p50':>7} {'p99':>7}")
        broker_pid = broker.pid if broker else None
        for case in LATENCY_CASES:
            if args.only and not any(word in case.label for word in args.only):
                continue
            r = await measure_latency(bootstrap, broker_pid, case, args)
            missing = f"  ({r['missing']} missing)" if r["missing"] else ""
            print(
                f"{r['case']:42} {r['p50']:>7.1f} {r['p99']:>7.1f} {r['max']:>7.1f} "
                f"{r.get('in_p50', nan):>7.1f} {r.get('in_p99', nan):>7.1f} "
                f"{r.get('inside_p50', nan):>7.1f} {r.get('inside_p99', nan):>7.1f} "
                f"{r['cpu']:>5.2f} {r['broker_cpu']:>6.2f} {r['samples']:>7}{missing}",
                flush=True,
            )
        if args.no_cpu:
            return
        print(
            f"\nCPU over {args.cpu_seconds:g} s (1.0 = one core; the job's process and the "
            f"broker's); broker: {where}"
        )
        print(f"{'case':44} {'input':>12} {'pipeline':>9} {'broker':>8}")
        wait = str(args.fetch_wait_ms)
        streamrt = ["--pipeline", "streamrt", "--buffer-timeout", "10"]
        cpu_cases = [
            Case("raw aiokafka loop, fetch wait 500 ms (default)", ["--pipeline", "raw"]),
            Case(
                f"raw aiokafka loop, fetch wait {wait} ms",
                ["--pipeline", "raw", "--fetch-wait", wait],
            ),
            Case("streamrt, fetch_timeout_ms 100 (default)", streamrt),
            Case(f"streamrt, fetch_timeout_ms {wait}", [*streamrt, "--fetch-wait", wait]),
        ]
        for rate in (0, 1_000):
            for case in cpu_cases:
                r = await measure_cpu(bootstrap, broker_pid, case, rate, args.cpu_seconds)
                load = f"{rate:,}/s" if rate else "idle"
                print(
                    f"{r['case']:44} {load:>12} {r['cpu']:>9.3f} {r['broker_cpu']:>8.3f}",
                    flush=True,
                )
        print(
            f"\ncommand: python -m bench.latency --rate {args.rate} --warmup {args.warmup:g} "
            f"--seconds {args.seconds:g} --cpu-seconds {args.cpu_seconds:g} "
            f"--broker {args.broker} --fetch-wait-ms {args.fetch_wait_ms} "
            f"--linger-ms {args.linger_ms}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cpu-seconds", type=float, default=8.0)
    parser.add_argument("--broker", choices=["tansu", "noida"], default="tansu")
    parser.add_argument(
        "--linger-ms",
        type=int,
        default=0,
        help="the input producer's linger_ms (its send time is stamped before it)",
    )
    parser.add_argument("--only", nargs="*", help="latency cases whose label contains a word")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU measurements")
    parser.add_argument(
        "--fetch-wait-ms",
        type=int,
        default=5,
        help="the fetch wait of every consumer in the latency cases (Tansu holds fetches up "
        "to their wait, so this bounds each consumer hop there)",
    )
    # the child process
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pipeline", choices=["raw", "streamrt"], help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--buffer-timeout", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument("--channel", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--linger", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fetch-wait", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warm", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        import uvloop

        uvloop.run(parent(args))


if __name__ == "__main__":
    main()
