"""``broker`` and ``topics`` (streamrt.testing.dev_commands) as a user runs them: subprocesses.

The broker tests always start the embedded broker through the command; the ``topics`` tests
run against ``KAFKA_BOOTSTRAP`` when it is set, else against one such broker process.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "streamrt.testing.dev_commands"]
FAST = ["--connect-attempts", "2", "--connect-timeout", "5"]  # fail fast in a broken setup
STARTUP_S = 30.0
STOP_S = 15.0


class Running:
    """A command running in the background; its output lines are collected as they come."""

    def __init__(self, *args: str, stdin: int | None = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen(
            [*COMMAND, *args],
            cwd=ROOT,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self._stderr_lines: queue.Queue[str | None] = queue.Queue()
        for stream, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, None)):
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True).start()

    def _pump(self, stream: IO[str] | None, lines: queue.Queue[str | None] | None) -> None:
        assert stream is not None
        with stream:  # closed at its end: no ResourceWarning
            for line in stream:
                if lines is None:
                    self.stderr.append(line.rstrip("\n"))
                    self._stderr_lines.put(line)
                else:
                    lines.put(line.rstrip("\n"))
        (self._stderr_lines if lines is None else lines).put(None)

    def next_line(self, timeout: float = STARTUP_S) -> str:
        """The next stdout line; fail after ``timeout`` seconds or at its end."""
        try:
            line = self.stdout.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no stdout line within {timeout} s; stderr: {self.stderr}")
        if line is None:
            pytest.fail(f"stdout ended (exit {self.proc.wait(STOP_S)}); stderr: {self.stderr}")
        return line

    def wait_stderr(self, contains: str, timeout: float = STARTUP_S) -> None:
        """Block until a stderr line contains ``contains``; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._stderr_lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no stderr line with {contains!r} in {timeout} s: {self.stderr}")
            if line is None:
                pytest.fail(f"stderr ended without {contains!r}: {self.stderr}")
            if contains in line:
                return

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        """Send ``sig``; return the exit status (fail if it takes over ``STOP_S`` seconds)."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"still running {STOP_S} s after {sig.name}; stderr: {self.stderr}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def command(*args: str, stdin: str = "", timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(*args: str, stdin: str = "") -> str:
    done = command(*args, stdin=stdin)
    assert done.returncode == 0, f"{args} exited {done.returncode}: {done.stderr}"
    return done.stdout


def start_broker(*args: str) -> tuple[Running, str]:
    """Start ``broker ARGS``; return it and its bootstrap address once it printed it."""
    broker = Running("broker", *args)
    line = broker.next_line()
    assert line.startswith("bootstrap: 127.0.0.1:"), line
    return broker, line.removeprefix("bootstrap: ")


def broker_pid(broker: Running) -> int:
    """The embedded broker's PID, from the command's first stderr line."""
    broker.wait_stderr("(pid ")
    first = next(line for line in broker.stderr if "(pid " in line)
    return int(first.split("(pid ")[1].split(")")[0])


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(scope="module")
def dev_broker() -> Iterator[tuple[Running, str]]:
    broker, bootstrap = start_broker("--port", "0")
    yield broker, bootstrap
    try:
        assert broker.stop() == 0, broker.stderr
    finally:
        broker.kill()


@pytest.fixture
def bootstrap(request: pytest.FixtureRequest) -> str:
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        return external
    _, address = request.getfixturevalue("dev_broker")
    return str(address)


@pytest.fixture
def new_topic(bootstrap: str) -> Callable[[int], str]:
    def create(partitions: int) -> str:
        name = f"dev-{uuid.uuid4().hex[:10]}"
        out = ok("topics", "--bootstrap", bootstrap, *FAST, "create", f"{name}:{partitions}")
        assert out == f"created topic {name!r} with {partitions} partition" + (
            "s\n" if partitions > 1 else "\n"
        )
        return name

    return create


def test_broker_creates_topics_prints_bootstrap_and_stops_on_sigint() -> None:
    broker, bootstrap = start_broker("--port", "0", "--topic", "orders:3", "--topic", "single")
    try:
        pid = broker_pid(broker)
        broker.wait_stderr("created topic 'orders' with 3 partitions")
        listed = ok("topics", "--bootstrap", bootstrap, *FAST, "list")
        assert listed.splitlines() == ["orders\t3", "single\t1"]
        assert broker.stop(signal.SIGINT) == 0, broker.stderr
    finally:
        broker.kill()
    assert broker.stdout.get(timeout=STOP_S) is None  # exactly one stdout line, read above
    assert "Traceback" not in "\n".join(broker.stderr)
    assert gone(pid), f"the noida process {pid} outlived the command"


def test_broker_keeps_its_data_dir_across_restarts_and_stops_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    broker, bootstrap = start_broker("--port", "0", "--data-dir", str(data), "--topic", "kept")
    try:
        pid = broker_pid(broker)
        ok("topics", "--bootstrap", bootstrap, *FAST, "produce", "kept", stdin="one\ntwo\n")
        assert broker.stop(signal.SIGTERM) == 0, broker.stderr
    finally:
        broker.kill()
    assert gone(pid)
    assert data.is_dir()

    broker, bootstrap = start_broker("--port", "0", "--data-dir", str(data), "--topic", "kept:2")
    try:
        broker.wait_stderr("topic 'kept' already exists with 1 partition (asked for 2); left alone")
        args = ["tail", "kept", "--from-beginning", "--max", "2"]
        assert ok("topics", "--bootstrap", bootstrap, *FAST, *args) == "one\ntwo\n"
        assert broker.stop() == 0
    finally:
        broker.kill()


def test_a_second_broker_on_a_taken_port_exits_2_naming_the_port(
    dev_broker: tuple[Running, str],
) -> None:
    port = dev_broker[1].rpartition(":")[2]
    done = command("broker", "--port", port, timeout=STARTUP_S)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert f"port {port} on 127.0.0.1 is already in use" in line


def test_a_missing_broker_wheel_exits_2_saying_what_to_install() -> None:
    hide_wheel = (
        "import sys; sys.modules['noida_db'] = None; "  # find_spec then finds nothing
        "from streamrt.testing.dev_commands import main; sys.exit(main(['broker']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide_wheel],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "noida-db" in line
    assert "install streamrt[test]" in line


def test_produce_then_tail_one_partition_in_order(
    bootstrap: str, new_topic: Callable[[int], str]
) -> None:
    topic = new_topic(1)
    lines = [f"line {i} ü" for i in range(5)]
    done = command("topics", "--bootstrap", bootstrap, "produce", topic, stdin="\n".join(lines))
    assert done.returncode == 0, done.stderr
    assert f"sent 5 records to topic {topic!r}" in done.stderr
    args = ["tail", topic, "--from-beginning", "--max", "5"]
    assert ok("topics", "--bootstrap", bootstrap, *FAST, *args).splitlines() == lines


def test_produce_keys_then_tail_three_partitions(
    bootstrap: str, new_topic: Callable[[int], str]
) -> None:
    topic = new_topic(3)
    records = [(f"user-{i % 4}", f"v{i}") for i in range(12)]
    stdin = "".join(f"{key}={value}\n" for key, value in records)
    ok(
        "topics",
        "--bootstrap",
        bootstrap,
        *FAST,
        "produce",
        topic,
        "--key-separator",
        "=",
        stdin=stdin,
    )
    args = ["tail", topic, "--from-beginning", "--max", "12", "--keys"]
    got = [line.split("\t") for line in ok("topics", "--bootstrap", bootstrap, *args).splitlines()]
    assert sorted(map(tuple, got)) == sorted(records)
    for key in {key for key, _ in records}:  # one key, one partition: in order
        assert [v for k, v in got if k == key] == [v for k, v in records if k == key]


def test_tail_from_the_end_prints_new_records_until_ctrl_c(
    bootstrap: str, new_topic: Callable[[int], str]
) -> None:
    topic = new_topic(2)
    ok("topics", "--bootstrap", bootstrap, *FAST, "produce", topic, stdin="old\n")
    tail = Running("topics", "--bootstrap", bootstrap, *FAST, "tail", topic)
    try:
        tail.wait_stderr("from the end")  # positioned: what is produced now is new
        ok("topics", "--bootstrap", bootstrap, *FAST, "produce", topic, stdin="new\n")
        assert tail.next_line() == "new"
        assert tail.stop(signal.SIGINT) == 0, tail.stderr
    finally:
        tail.kill()
    assert tail.stdout.get(timeout=STOP_S) is None


def test_produce_sends_each_line_as_it_comes_and_ctrl_c_exits_130(
    bootstrap: str, new_topic: Callable[[int], str]
) -> None:
    topic = new_topic(1)
    produce = Running("topics", "--bootstrap", bootstrap, *FAST, "produce", topic, stdin=-1)
    try:
        assert produce.proc.stdin is not None
        produce.proc.stdin.write("typed\nlines\n")  # and no end of input: a terminal
        produce.proc.stdin.flush()
        args = ["tail", topic, "--from-beginning", "--max", "2"]
        assert ok("topics", "--bootstrap", bootstrap, *FAST, *args) == "typed\nlines\n"
        assert produce.stop(signal.SIGINT) == 130, produce.stderr
    finally:
        produce.kill()
        if produce.proc.stdin is not None:
            produce.proc.stdin.close()
    produce.wait_stderr(f"sent 2 records to topic {topic!r}")


def test_tail_ends_after_timeout_ms_without_records(
    bootstrap: str, new_topic: Callable[[int], str]
) -> None:
    topic = new_topic(1)
    began = time.monotonic()
    args = ["tail", topic, "--from-beginning", "--timeout-ms", "300"]
    assert ok("topics", "--bootstrap", bootstrap, *FAST, *args) == ""
    assert time.monotonic() - began < 30


def test_create_leaves_an_existing_topic_alone(
    bootstrap: str, new_topic: Callable[[int], str]
) -> None:
    topic = new_topic(2)
    out = ok("topics", "--bootstrap", bootstrap, *FAST, "create", f"{topic}:3")
    assert out == f"topic {topic!r} already exists with 2 partitions (asked for 3); left alone\n"
    assert f"{topic}\t2" in ok("topics", "--bootstrap", bootstrap, *FAST, "list").splitlines()


@pytest.mark.parametrize("action", ["tail", "produce"])
def test_an_unknown_topic_exits_1_naming_it_and_is_not_created(bootstrap: str, action: str) -> None:
    topic = f"missing-{uuid.uuid4().hex[:10]}"
    done = command("topics", "--bootstrap", bootstrap, *FAST, action, topic, stdin="x\n")
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert f"topic {topic!r} does not exist at {bootstrap}" in line
    listed = ok("topics", "--bootstrap", bootstrap, *FAST, "list", "--all")
    assert topic not in listed.split()


def test_an_unreachable_broker_exits_1_naming_it_quickly() -> None:
    began = time.monotonic()
    args = ["--connect-attempts", "1", "--connect-timeout", "2", "list"]
    done = command("topics", "--bootstrap", "127.0.0.1:1", *args, timeout=30)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert "cannot reach Kafka at '127.0.0.1:1'" in line
    assert time.monotonic() - began < 15
