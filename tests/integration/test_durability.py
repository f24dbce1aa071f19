"""Durable checkpoints as an operator lives them: ``streamrt run`` processes that really die.

Each test drives real ``streamrt run`` processes (a job module written into ``tmp_path``)
against the Kafka-protocol broker of the ``kafka`` fixture:

* a SIGKILL at a checkpoint boundary, then a restart on the same ``--checkpoint-dir``: the
  final per-user totals equal an uninterrupted computation's;
* a process killed between a checkpoint's blobs and its ``_metadata``: the previous checkpoint
  stays the latest, and a truncated ``_metadata`` is refused in one line;
* savepoint -> stop -> restore at parallelism 1 -> 3 and 1 -> 3 -> 2: every key's running
  count continues without gap or repeat;
* SIGTERM under load: exit 0 in time, committed offsets equal the final checkpoint's positions,
  and a restart continues without duplicates;
* a KafkaSink in a job without checkpointing sends its records (within its linger time).

The expected results are computed from the input topic as read back (per user, in partition
order), independently of the code under test.
"""

from __future__ import annotations

import asyncio
import json
import queue
import random
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from aiokafka import AIOKafkaProducer

from streamrt.runtime.checkpoint_storage import METADATA_FILE, FileSystemCheckpointStorage
from streamrt.runtime.completed_checkpoint import CompletedCheckpoint
from tests.integration.conftest import Kafka

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "streamrt.cli"]
USERS = 50
STARTUP_S = 30.0  # a process to print its metrics address, a job to reach a point
FINISH_S = 90.0  # a bounded job to finish by itself
STOP_S = 30.0  # a process to exit after a stop request or a kill

#: the job under test: amounts per user -> a little busy work -> running total and count per
#: user -> KafkaSink keyed by user; configured through the environment (see ``job_env``)
JOB_MODULE = '''
import dataclasses
import os

from streamrt.connectors.kafka import KafkaSink, KafkaSource, json_deserializer, json_serializer

SPIN = int(os.environ["DURABILITY_SPIN"])


def one(order):
    """An amount as a total of one, after some busy work (so a crash lands mid-way)."""
    busy = 0
    for i in range(SPIN):
        busy += i
    return {"user": order["user"], "total": order["amount"], "count": 1}


def add(acc, more):
    return {"user": acc["user"], "total": acc["total"] + more["total"], "count": acc["count"] + 1}


def build(env):
    # short channels keep barrier alignment short: a checkpoint every few hundred ms
    env.config = dataclasses.replace(env.config, buffer_size=32, channel_capacity=2)
    bootstrap = os.environ["DURABILITY_BOOTSTRAP"]
    source = KafkaSource(
        bootstrap_servers=bootstrap,
        topics=[os.environ["DURABILITY_IN"]],
        mode="assigned",
        bounded=os.environ["DURABILITY_BOUNDED"] == "1",
        group_id=os.environ.get("DURABILITY_GROUP") or None,
        value_deserializer=json_deserializer,
        max_batch_records=200,
    )
    sink = KafkaSink(
        bootstrap_servers=bootstrap,
        topic=os.environ["DURABILITY_OUT"],
        key_selector=lambda total: total["user"],
        key_serializer=str.encode,
        value_serializer=json_serializer,
        timestamp="processing",
    )
    (
        env.from_source(source, source_name="amounts")
        .uid("amounts")
        .map(one)
        .uid("one")
        .key_by(lambda total: total["user"])
        .reduce(add)
        .uid("totals")
        .sink_to(sink)
        .uid("out")
    )
'''


# -- processes ------------------------------------------------------------------------------------
class Service:
    """A ``streamrt run`` (or other CLI) process; its stderr lines are collected as they come."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [*CLI, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._pump = threading.Thread(target=self._read, args=(self.proc.stderr,), daemon=True)
        self._pump.start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        with stream:
            for line in stream:
                self.stderr.append(line.rstrip("\n"))
                self._lines.put(line)
        self._lines.put(None)

    def log(self) -> str:
        return "\n".join(self.stderr[-40:])

    def wait_line(self, pattern: str, timeout: float = STARTUP_S) -> re.Match[str]:
        """The first new stderr line matching ``pattern``; fail after ``timeout`` or at its end."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no stderr line matching {pattern!r} in {timeout} s:\n{self.log()}")
            if line is None:
                pytest.fail(f"stderr ended without {pattern!r}:\n{self.log()}")
            match = re.search(pattern, line)
            if match:
                return match

    def url(self) -> str:
        """The address of the job's endpoints, as it printed it."""
        return self.wait_line(r"streamrt: metrics at (http://127\.0\.0\.1:\d+)/metrics").group(1)

    def wait(self, timeout: float) -> int:
        """The exit status; kill it and fail when it has not exited within ``timeout``."""
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_S)
            pytest.fail(f"still running after {timeout} s:\n{self.log()}")
        self._pump.join(STOP_S)
        return status

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_S)
        self._pump.join(STOP_S)


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Processes a test starts; any still running at its end are killed."""
    started: list[Service] = []
    yield started
    for service in started:
        service.ensure_dead()


def start(services: list[Service], cwd: Path, env: dict[str, str], *args: str) -> Service:
    service = Service(cwd, env, *args)
    services.append(service)
    return service


def job_env(
    kafka: Kafka, in_topic: str, out_topic: str, *, bounded: bool, spin: int, group: str = ""
) -> dict[str, str]:
    return {
        "PYTHONPATH": str(ROOT),
        "PATH": "",
        "DURABILITY_BOOTSTRAP": kafka.bootstrap,
        "DURABILITY_IN": in_topic,
        "DURABILITY_OUT": out_topic,
        "DURABILITY_BOUNDED": "1" if bounded else "0",
        "DURABILITY_SPIN": str(spin),
        "DURABILITY_GROUP": group,
    }


def run_args(*extra: str) -> list[str]:
    """``run durability_job:build`` with endpoints on a free loopback port."""
    return [
        "run",
        "durability_job:build",
        "--job-name",
        "durability",
        "--metrics-host",
        "127.0.0.1",
        "--metrics-port",
        "0",
        "--restart-strategy",
        "none",
        *extra,
    ]


def checkpoints(directory: str | Path, interval_ms: int) -> list[str]:
    return ["--checkpoint-dir", str(directory), "--checkpoint-interval", str(interval_ms)]


def write_job(tmp_path: Path) -> None:
    (tmp_path / "durability_job.py").write_text(JOB_MODULE)


def poll(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Check ``condition`` every 50 ms until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# -- data -----------------------------------------------------------------------------------------
def amounts(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"user": f"u{rng.randrange(USERS)}", "amount": rng.randrange(1, 100)} for _ in range(count)
    ]


def produce(kafka: Kafka, topic: str, values: list[dict[str, Any]]) -> None:
    asyncio.run(kafka.produce_json(topic, values, key=lambda v: str(v["user"])))


def record_count(kafka: Kafka, topic: str) -> int:
    return sum(asyncio.run(kafka.end_offsets(topic)).values())


def wait_for_records(
    kafka: Kafka, topic: str, count: int, job: Service, timeout: float = STARTUP_S
) -> None:
    """Poll until ``topic`` holds ``count`` records; fail after ``timeout`` or if ``job`` ends."""
    deadline = time.monotonic() + timeout
    while (found := record_count(kafka, topic)) < count:
        if job.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{found} of {count} records in {topic}; the job says:\n{job.log()}")
        time.sleep(0.05)


def read_values(kafka: Kafka, topic: str) -> list[dict[str, Any]]:
    """Every value in ``topic``, decoded, in (partition, offset) order."""
    records = asyncio.run(kafka.consume(topic, record_count(kafka, topic)))
    records.sort(key=lambda r: (r.partition, r.offset))
    return [json.loads(r.value) for r in records]


def amounts_by_user(values: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Each user's amounts in the order the job sees them (a user's records share a partition)."""
    by_user: dict[str, list[int]] = defaultdict(list)
    for value in values:
        by_user[value["user"]].append(value["amount"])
    return by_user


def running_totals(by_user: dict[str, list[int]]) -> dict[str, list[int]]:
    """Per user, the total after 1, 2, ... n amounts: what an uninterrupted run emits."""
    totals: dict[str, list[int]] = {}
    for user, values in by_user.items():
        acc = 0
        totals[user] = [acc := acc + v for v in values]
    return totals


def check_totals(outputs: list[dict[str, Any]], inputs: list[dict[str, Any]]) -> None:
    """Every output is a correct running total; each user's final total is the exact one."""
    expected = running_totals(amounts_by_user(inputs))
    assert {o["user"] for o in outputs} == set(expected)
    for o in outputs:
        assert 1 <= o["count"] <= len(expected[o["user"]]), o
        assert o["total"] == expected[o["user"]][o["count"] - 1], o
    finals = {u: max(o["count"] for o in outputs if o["user"] == u) for u in expected}
    assert finals == {u: len(t) for u, t in expected.items()}


def counts_by_user(outputs: list[dict[str, Any]]) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = defaultdict(list)
    for o in outputs:
        counts[o["user"]].append(o["count"])
    return counts


def check_exactly_once(outputs: list[dict[str, Any]], inputs: list[dict[str, Any]]) -> None:
    """Correct totals, and each user's counts are exactly 1..n in order: no gap, no repeat."""
    check_totals(outputs, inputs)
    expected = amounts_by_user(inputs)
    for user, counts in counts_by_user(outputs).items():
        assert counts == list(range(1, len(expected[user]) + 1)), user
    assert len(outputs) == len(inputs)


def positions(checkpoint_path: str, topic: str) -> dict[int, int]:
    """The source positions (next offset per partition of ``topic``) in a checkpoint."""
    found: dict[int, int] = {}
    for snapshot in CompletedCheckpoint.load(checkpoint_path).task_snapshots():
        for (t, partition), offset in snapshot.get("positions", {}).items():
            if t == topic:
                found[partition] = offset
    return found


# -- 1. a real crash ------------------------------------------------------------------------------
@pytest.mark.parametrize("kill_after", [1, 3, 6])
def test_a_job_killed_after_a_checkpoint_resumes_with_exact_totals(
    kafka: Kafka, tmp_path: Path, services: list[Service], kill_after: int
) -> None:
    in_topic = asyncio.run(kafka.create_topic(4, "amounts"))
    out_topic = asyncio.run(kafka.create_topic(4, "totals"))
    produce(kafka, in_topic, amounts(30_000, seed=kill_after))
    inputs = read_values(kafka, in_topic)
    write_job(tmp_path)
    env = job_env(kafka, in_topic, out_topic, bounded=True, spin=4_000)
    args = run_args("--parallelism", "2", *checkpoints("chk", 200))
    storage = FileSystemCheckpointStorage(tmp_path / "chk")

    doomed = start(services, tmp_path, env, *args)
    poll(
        lambda: storage.latest_id() >= kill_after or doomed.proc.poll() is not None,
        FINISH_S,
        f"checkpoint {kill_after}",
    )
    assert doomed.proc.poll() is None, f"finished before checkpoint {kill_after}:\n{doomed.log()}"
    time.sleep(random.Random(f"kill-{kill_after}").uniform(0.0, 0.3))  # not always at the edge
    doomed.proc.kill()
    assert doomed.wait(STOP_S) == -signal.SIGKILL
    survived = storage.latest_id()
    assert survived >= kill_after
    assert record_count(kafka, out_topic) < len(inputs), "killed only after it had finished"

    again = start(services, tmp_path, env, *args)
    restored = again.wait_line(r"restoring from checkpoint (\d+) at (\S+)")
    assert int(restored.group(1)) == survived
    assert restored.group(2) == str(tmp_path / "chk" / f"chk-{survived}")
    assert again.wait(FINISH_S) == 0, again.log()

    # the sink is at-least-once: records after the checkpoint come twice, identical, and the
    # state restored with the offsets makes every total exact
    check_totals(read_values(kafka, out_topic), inputs)


# -- 2. a crash while a checkpoint is being written -----------------------------------------------
CRASH_MID_WRITE = """
import os, signal, sys

from streamrt.runtime.checkpoint_storage import FileSystemCheckpointStorage

storage = FileSystemCheckpointStorage(sys.argv[1])
storage.write(1, 1_000, {"note": "first"}, {"task-0-0": b"one" * 100})
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # dies before _metadata exists
storage.write(2, 2_000, {"note": "second"}, {"task-0-0": b"two" * 100})
print("still alive")
"""

TINY_JOB = "def build(env):\n    env.from_collection([1, 2, 3]).print()\n"


def test_a_crash_between_blobs_and_metadata_leaves_the_previous_checkpoint(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "chk"
    crashed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CRASH_MID_WRITE), str(directory)],
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=STOP_S,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert "still alive" not in crashed.stdout
    half = directory / "chk-2"
    assert (half / "task-0-0").read_bytes() == b"two" * 100
    assert not (half / METADATA_FILE).exists()

    storage = FileSystemCheckpointStorage(directory)
    assert storage.latest() == str(directory / "chk-1")
    assert storage.latest_id() == 1
    first = storage.read(str(directory / "chk-1"))
    assert (first.checkpoint_id, first.metadata) == (1, {"note": "first"})
    assert first.blobs == {"task-0-0": b"one" * 100}

    metadata = directory / "chk-1" / METADATA_FILE
    metadata.write_bytes(metadata.read_bytes()[:20])
    (tmp_path / "tiny_job.py").write_text(TINY_JOB)
    refused = subprocess.run(
        [*CLI, "run", "tiny_job:build", "--no-metrics", *checkpoints(directory, 200)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    naming = [line for line in refused.stderr.splitlines() if str(metadata) in line]
    assert len(naming) == 1, refused.stderr
    assert naming[0].startswith("streamrt: ")
    assert refused.stderr.strip().splitlines()[-1] == naming[0]
    assert refused.stdout == ""  # the job did not run


# -- 3. savepoint, stop, restore at another parallelism ------------------------------------------
def stop_with_savepoint(service: Service, url: str, directory: Path) -> str:
    """``streamrt stop --savepoint DIR``; the job exits 0; the savepoint's path."""
    stopped = subprocess.run(
        [*CLI, "stop", "--url", url, "--savepoint", str(directory), "--timeout", "60"],
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert stopped.returncode == 0, stopped.stderr
    assert service.wait(STOP_S) == 0, service.log()
    path = stopped.stdout.strip()
    assert Path(path).parent == directory
    assert (Path(path) / METADATA_FILE).is_file()
    return path


@pytest.mark.parametrize(
    "parallelisms",
    [
        pytest.param([1, 3], id="1-3"),
        pytest.param([1, 3, 2], id="1-3-2"),
    ],
)
def test_savepoints_carry_every_key_across_rescales(
    kafka: Kafka, tmp_path: Path, services: list[Service], parallelisms: list[int]
) -> None:
    in_topic = asyncio.run(kafka.create_topic(4, "amounts"))
    out_topic = asyncio.run(kafka.create_topic(4, "totals"))
    write_job(tmp_path)
    env = job_env(kafka, in_topic, out_topic, bounded=False, spin=0)
    savepoints = tmp_path / "savepoints"
    restore: list[str] = []
    produced = 0
    for round_, parallelism in enumerate(parallelisms):
        produce(kafka, in_topic, amounts(2_000, seed=100 + round_))
        produced += 2_000
        service = start(
            services,
            tmp_path,
            env,
            # checkpoints in the default directory, ./checkpoints/<job name>; the sink sends
            # at checkpoints (see test_a_sink_sends_without_checkpoints)
            *run_args("--parallelism", str(parallelism), "--checkpoint-interval", "200", *restore),
        )
        url = service.url()
        if restore:
            service.wait_line(r"restoring from savepoint ")
        wait_for_records(kafka, out_topic, produced, service)
        restore = ["--from-savepoint", stop_with_savepoint(service, url, savepoints)]

    check_exactly_once(read_values(kafka, out_topic), read_values(kafka, in_topic))


# -- 4. SIGTERM under load ------------------------------------------------------------------------
class Producer:
    """Writes amounts to a topic at a fixed rate from its own thread until stopped."""

    def __init__(self, bootstrap: str, topic: str, per_second: int) -> None:
        self.bootstrap, self.topic, self.per_second = bootstrap, topic, per_second
        self.produced = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self._produce())
        except BaseException as exc:  # reported by stop()
            self.error = exc

    async def _produce(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        try:
            tick, rng = 0.1, random.Random(7)
            batch = max(1, int(self.per_second * tick))
            next_tick = time.monotonic()
            while not self._stop.is_set():
                for value in amounts(batch, seed=rng.randrange(1 << 30)):
                    key = value["user"].encode()
                    await producer.send(self.topic, json.dumps(value).encode(), key=key)
                await producer.flush()
                self.produced += batch
                next_tick += tick
                await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        finally:
            await producer.stop()

    def stop(self) -> int:
        """Stop writing; how many records were written (acknowledged)."""
        self._stop.set()
        self._thread.join(STOP_S)
        assert not self._thread.is_alive(), "the producer did not stop"
        if self.error is not None:
            raise self.error
        return self.produced


def sigterm(service: Service, timeout: float) -> float:
    """SIGTERM; the process exits 0; how many seconds that took."""
    began = time.monotonic()
    service.proc.send_signal(signal.SIGTERM)
    assert service.wait(timeout + 5) == 0, service.log()
    return time.monotonic() - began


def test_sigterm_under_load_commits_the_final_checkpoint(
    kafka: Kafka, tmp_path: Path, services: list[Service]
) -> None:
    in_topic = asyncio.run(kafka.create_topic(4, "amounts"))
    out_topic = asyncio.run(kafka.create_topic(4, "totals"))
    group = f"durability-{in_topic}"
    write_job(tmp_path)
    env = job_env(kafka, in_topic, out_topic, bounded=False, spin=200, group=group)
    args = run_args("--parallelism", "2", *checkpoints("chk", 500), "--shutdown-timeout", "10")
    storage = FileSystemCheckpointStorage(tmp_path / "chk")

    producer = Producer(kafka.bootstrap, in_topic, per_second=1_000)
    try:
        first = start(services, tmp_path, env, *args)
        first.wait_line(r"no checkpoint in ")
        poll(
            lambda: storage.latest_id() >= 2 and record_count(kafka, out_topic) > 0,
            STARTUP_S,
            "two checkpoints and some output",
        )
        assert sigterm(first, timeout=10) < 10
    finally:
        produced = producer.stop()

    latest = storage.latest()
    assert latest is not None
    final = positions(latest, in_topic)
    assert asyncio.run(kafka.committed(in_topic, group)) == final
    # the final checkpoint was taken at the stop: the output is exactly what it covers
    assert record_count(kafka, out_topic) == sum(final.values())

    produce(kafka, in_topic, amounts(1_000, seed=8))
    total = produced + 1_000
    restored = storage.latest_id()
    second = start(services, tmp_path, env, *args)
    second.wait_line(rf"restoring from checkpoint {restored} at ")
    wait_for_records(kafka, out_topic, total, second)
    assert sigterm(second, timeout=10) < 10

    inputs = read_values(kafka, in_topic)
    assert len(inputs) == total
    check_exactly_once(read_values(kafka, out_topic), inputs)


# -- found on the way -----------------------------------------------------------------------------
def test_a_sink_sends_without_checkpoints(
    kafka: Kafka, tmp_path: Path, services: list[Service]
) -> None:
    in_topic = asyncio.run(kafka.create_topic(4, "amounts"))
    out_topic = asyncio.run(kafka.create_topic(4, "totals"))
    write_job(tmp_path)
    env = job_env(kafka, in_topic, out_topic, bounded=False, spin=0)
    job = start(services, tmp_path, env, *run_args("--parallelism", "1"))
    job.wait_line(r"no checkpoint|Updating subscribed topics")
    produce(kafka, in_topic, amounts(100, seed=9))
    wait_for_records(kafka, out_topic, 100, job, timeout=5.0)
    assert sigterm(job, timeout=10) < 10
