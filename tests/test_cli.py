"""The ``streamrt`` command: plan and run a job given as module:function."""

from __future__ import annotations

import asyncio
import json
import logging
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from metrics.exporter import MetricsServer
from streamrt import StreamExecutionEnvironment
from streamrt.cli import main
from streamrt.connectors.datagen import DataGeneratorSource
from streamrt.runtime.checkpoint_storage import FileSystemCheckpointStorage
from streamrt.runtime.job import JobStatus
from streamrt.runtime.sink_writer import SinkWriter, SinkWriterBase, SinkWriterContext
from streamrt.service import ServiceOptions, SigtermBeforeStart, run_service
from streamrt.testing import CollectSink
from streamrt.watchdog import StallWatchdog
from tests.conftest import bounded, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # plan builds the job without connecting: any address will do
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:9")


@pytest.mark.usefixtures("demo_env")
def test_plan_prints_the_chained_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "examples.orders_demo:build", "--parallelism", "3"]) == 0
    assert capsys.readouterr().out == (
        "Job 'examples.orders_demo:build': 2 tasks, 6 subtasks\n"
        "\n"
        "Task 1  parallelism 3, max parallelism 128\n"
        "  [1] Source: orders (source)\n"
        "  [2] paid orders  <- [1] chained\n"
        "\n"
        "Task 2  parallelism 3, max parallelism 128\n"
        "  [3] revenue per country  <- [2] of Task 1 via HASH, local, 3x3 channels\n"
        "  [4] revenue (sink)  <- [3] chained\n"
    )


@pytest.mark.usefixtures("demo_env")
def test_plan_as_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "examples.orders_demo:build", "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart LR\n")
    assert '  n2 ==>|"HASH, local"| n3\n' in out


def test_a_builder_that_fails_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    assert main(["plan", "examples.orders_demo:build"]) == 1
    assert "set KAFKA_BOOTSTRAP" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_colon", "expected module:function, got 'no_colon'"),
        ("does_not_exist_mod:build", "cannot import module 'does_not_exist_mod'"),
        ("examples.orders_demo:nope", "module 'examples.orders_demo' has no 'nope'; callables"),
    ],
)
def test_bad_targets_are_named(
    target: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", target]) == 1
    assert message in capsys.readouterr().err


def test_run_executes_a_bounded_job(tmp_path: Path) -> None:
    (tmp_path / "tiny_job.py").write_text(
        textwrap.dedent(
            """
            def build(env):
                env.from_collection(range(5)).map(lambda v: v * v).print()
            """
        )
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamrt.cli",
            "run",
            "tiny_job:build",
            "--job-name",
            "tiny",
            "--no-metrics",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1", "4", "9", "16"]
    assert "job 'tiny' finished in" in done.stderr


def test_a_failing_job_exits_non_zero_with_the_operator_named(tmp_path: Path) -> None:
    (tmp_path / "bad_job.py").write_text(
        textwrap.dedent(
            """
            def build(env):
                env.from_collection([1, 0]).map(lambda v: 1 // v).name("invert").print()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "streamrt.cli", "run", "bad_job:build", "--metrics-port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        check=False,
    )
    assert done.returncode == 1
    assert "operator 'invert' (subtask 1/1) failed: ZeroDivisionError: integer division" in (
        done.stderr
    )


def _run_cli(tmp_path: Path, job_source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``streamrt <args>`` in a subprocess, with ``job.py`` holding ``job_source``."""
    (tmp_path / "job.py").write_text(textwrap.dedent(job_source))
    return subprocess.run(
        [sys.executable, "-m", "streamrt.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        check=False,
    )


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_a_builder_with_the_wrong_signature_is_one_line(tmp_path: Path) -> None:
    done = _run_cli(tmp_path, "def build(env, extra):\n    pass\n", "run", "job:build")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert _last_line(done.stderr) == (
        "streamrt: builder 'job:build' must take one argument, the StreamExecutionEnvironment "
        "(or none, and call StreamExecutionEnvironment.get_execution_environment()); its "
        "signature is (env, extra)"
    )


def test_a_builder_that_raises_is_one_line_and_verbose_shows_the_traceback(
    tmp_path: Path,
) -> None:
    source = "def build(env):\n    raise ValueError('no config file')\n"
    done = _run_cli(tmp_path, source, "run", "job:build", "--no-metrics")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert _last_line(done.stderr) == (
        "streamrt: building the job with 'job:build' failed: ValueError: no config file"
    )
    verbose = _run_cli(tmp_path, source, "run", "job:build", "--no-metrics", "--verbose")
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr
    assert "raise ValueError('no config file')" in verbose.stderr


def test_a_metrics_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run_cli(
            tmp_path,
            "def build(env):\n    env.from_collection([1]).print()\n",
            "run",
            "job:build",
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(port),
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    line = _last_line(done.stderr)
    assert line.startswith(f"streamrt: cannot serve metrics on 127.0.0.1:{port}: ")
    assert line.endswith(
        "; choose another --metrics-port (0 picks a free one) or pass --no-metrics"
    )


def test_a_builder_that_calls_execute_runs_once_as_the_service(tmp_path: Path) -> None:
    # the PyFlink habit: the job file builds and executes; under `streamrt run` that execute()
    # runs the job as the service, and run does not run it a second time
    source = """
        from streamrt import StreamExecutionEnvironment

        def main():
            env = StreamExecutionEnvironment.get_execution_environment()
            env.from_collection([1, 2, 3]).map(lambda v: v * 10).print()
            env.execute("tens")
        """
    done = _run_cli(tmp_path, source, "run", "job:main", "--metrics-port", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["10", "20", "30"]
    assert "streamrt: metrics at http://127.0.0.1:" in done.stderr
    assert done.stderr.count("streamrt: job 'tens' finished in") == 1


def test_get_execution_environment_outside_the_cli_is_a_new_environment() -> None:
    from streamrt import StreamExecutionEnvironment

    first = StreamExecutionEnvironment.get_execution_environment()
    assert first is not StreamExecutionEnvironment.get_execution_environment()
    with StreamExecutionEnvironment.prepared(first):
        assert StreamExecutionEnvironment.get_execution_environment() is first


# -- operations: stall watchdog, SIGTERM from the start, /readyz while stopping (issue 12) -------


def _deadline_line(stream: IO[str], marker: str, timeout: float) -> str:
    """Read ``stream`` line by line until one contains ``marker``; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([stream], [], [], left)
        if not ready:
            break
        line = stream.readline()
        if not line:  # the process ended
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    pytest.fail(f"no line with {marker!r} within {timeout} s; got:\n{''.join(seen)}")


@pytest.mark.slow
def test_a_blocked_event_loop_fails_the_process_naming_the_stall(tmp_path: Path) -> None:
    source = """
        import time

        def hold_the_loop(value):
            time.sleep(60)  # synchronous: blocks the event loop
            return value

        def build(env):
            env.from_collection([1, 2, 3]).map(hold_the_loop).name("sleeper").print()
        """
    started = time.monotonic()
    done = _run_cli(tmp_path, source, "run", "job:build", "--no-metrics", "--stall-timeout", "1")
    elapsed = time.monotonic() - started
    assert done.returncode == 70, done.stderr
    assert elapsed < 30, f"took {elapsed:.1f} s to notice a 1 s stall"
    line = _last_line(done.stderr)
    assert line.startswith("streamrt: job 'job:build' stalled: its event loop has been blocked"), (
        done.stderr
    )
    assert "(--stall-timeout 1 s), in hold_the_loop (" in line
    assert line.endswith("; exiting with status 70")
    assert "time.sleep(60)" in done.stderr  # the loop thread's stack is logged


@pytest.mark.slow
def test_sigterm_before_the_job_runs_exits_0_without_starting_it(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(
        textwrap.dedent(
            """
            import sys, time

            def build(env):
                print("building", file=sys.stderr, flush=True)
                time.sleep(60)  # a slow builder: SIGTERM must not wait for it
                env.from_collection([1]).print()
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "streamrt.cli", "run", "job:build", "--no-metrics"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    try:
        assert process.stderr is not None
        _deadline_line(process.stderr, "building", timeout=30)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == 0, err
    assert time.monotonic() - started < 10
    assert out == ""  # nothing ran
    assert "streamrt: SIGTERM before the job started: nothing was run" in err


class _SigtermWhileRestoring(FileSystemCheckpointStorage, logging.Handler):
    """Gets SIGTERM while looking for the checkpoint to restore, as during a slow read.

    The read returns only once the service's handler has run (it logs), as a slow read would.
    """

    def __init__(self, directory: str) -> None:
        FileSystemCheckpointStorage.__init__(self, directory)
        logging.Handler.__init__(self)
        self.handled = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("SIGTERM before job"):
            self.handled.set()

    def latest(self) -> str | None:
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        assert self.handled.wait(10), "the service did not handle SIGTERM while restoring"
        return super().latest()


async def test_sigterm_while_restoring_starts_no_job(
    tmp_path: Path, env_factory: Callable[..., StreamExecutionEnvironment]
) -> None:
    storage = _SigtermWhileRestoring(str(tmp_path))
    env = env_factory()
    env.enable_checkpointing(1_000, storage=storage)
    env.from_collection([1, 2]).sink_to(CollectSink())
    options = ServiceOptions(metrics_port=None, stall_timeout_s=0)
    logger = logging.getLogger("streamrt")
    level = logger.level
    logger.setLevel(logging.INFO)  # the handler's INFO line is what the read waits for
    logger.addHandler(storage)
    try:
        with pytest.raises(SigtermBeforeStart, match="SIGTERM before job 'restoring' started"):
            await bounded(run_service(env, "restoring", options), 30)
    finally:
        logger.removeHandler(storage)
        logger.setLevel(level)
    assert env.last_job is None  # never created


async def _get(url: str) -> tuple[int, dict[str, Any]]:
    def fetch() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    status, body = await bounded(asyncio.to_thread(fetch), 15)
    return status, json.loads(body)


class _GatedSink:
    """A sink whose final flush waits for ``gate``: the job drains until the test opens it."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    def create_writer(self, context: SinkWriterContext) -> SinkWriter[Any]:
        gate = self.gate

        class Writer(SinkWriterBase):
            def write(self, value: Any, timestamp: int | None) -> None:
                pass

            async def flush(self, end_of_input: bool) -> None:
                if end_of_input:
                    await bounded(gate.wait(), 30)

        return Writer()


async def test_readyz_is_503_stopping_as_soon_as_a_stop_begins(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory()
    sink = _GatedSink()
    env.from_source(DataGeneratorSource(lambda i: i, records_per_second=1_000)).sink_to(sink)
    job = env.create_job("draining")
    async with MetricsServer(job, host="127.0.0.1", port=0) as server:
        running = asyncio.create_task(job.run())
        await wait_until(lambda: job.readiness()[0], what="a ready job")
        assert await _get(f"{server.url}/readyz") == (200, {"ready": True, "status": "running"})
        job.stop()
        assert job.stopping
        # still running (its sink's final flush waits), but out of rotation at once
        assert await _get(f"{server.url}/readyz") == (503, {"ready": False, "reason": "stopping"})
        assert job.status is JobStatus.RUNNING
        sink.gate.set()
        await bounded(running)  # finished, as the next answer says
        assert await _get(f"{server.url}/readyz") == (
            503,
            {"ready": False, "reason": "job is finished"},
        )


async def test_healthz_reports_a_stall() -> None:
    async with MetricsServer(None, host="127.0.0.1", port=0) as server:
        status, body = await _get(f"{server.url}/healthz")
        assert (status, body["stalled"]) == (200, False)
        reason = "job 'x' stalled: its event loop has been blocked for 61.0 s"
        server.stall_reason = lambda: reason
        status, body = await _get(f"{server.url}/healthz")
        assert (503, True, reason) == (status, body["stalled"], body["stall"])


async def test_the_watchdog_reports_a_blocked_loop_from_its_thread() -> None:
    reasons: list[str] = []
    reported = threading.Event()

    def on_stall(reason: str) -> None:
        reasons.append(reason)
        reported.set()

    watchdog = StallWatchdog("blocked", 0.2, on_stall=on_stall, interval_s=0.02)
    async with watchdog.watching(lambda: None):
        # block the loop (this is the stall under test) until the thread has reported it
        assert reported.wait(timeout=10)
    assert len(reasons) == 1
    assert watchdog.stalled == reasons[0]
    assert reasons[0].startswith("job 'blocked' stalled: its event loop has been blocked for")
    assert "test_the_watchdog_reports_a_blocked_loop_from_its_thread" in reasons[0]


async def test_the_watchdog_ignores_a_live_idle_loop() -> None:
    reasons: list[str] = []
    watchdog = StallWatchdog("idle", 0.1, on_stall=reasons.append, interval_s=0.01)
    async with watchdog.watching(lambda: None):
        await asyncio.sleep(0.5)  # the loop is free: beats keep coming (the duration is the test)
    assert (reasons, watchdog.stalled) == ([], None)
