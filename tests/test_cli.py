"""The ``streamrt`` command: plan and run a job given as module:function."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from streamrt.cli import main

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
