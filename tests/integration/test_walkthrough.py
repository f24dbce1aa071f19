"""README's "Your first job against Kafka": every command of it, run as a user would.

The commands are read from README.md (between the walkthrough markers) and run with bash in a
fresh directory, in order, on free ports instead of 9092 and 9249; long-running ones (the broker,
the job) in the background, stopped at the end as a user would (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _blocks() -> tuple[list[str], str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- walkthrough -->")[1].split("<!-- /walkthrough -->")[0]
    shell = re.findall(r"```sh\n(.*?)```", section, re.S)
    expected = re.findall(r"```text\n(.*?)```", section, re.S)
    assert len(shell) == 5, "the walkthrough has five shell steps"
    assert len(expected) == 1
    return shell, expected[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Shell:
    """Runs README commands with bash in ``cwd``, the venv's tools first on PATH."""

    def __init__(self, cwd: Path, ports: dict[str, int]) -> None:
        self.cwd = cwd
        self.ports = ports
        bin_dir = Path(sys.executable).parent
        self.env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.env.pop("KAFKA_BOOTSTRAP", None)  # the walkthrough starts its own broker

    def localize(self, block: str) -> str:
        for port, replacement in self.ports.items():
            block = block.replace(port, str(replacement))
        return block

    def run(self, block: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.localize(block)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, block: str) -> subprocess.Popen[str]:
        # exec: the signal reaches the command itself, as Ctrl-C in a terminal would
        return subprocess.Popen(
            ["bash", "-c", "exec " + self.localize(block).strip()],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _wait_for_line(process: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and process.poll() is not None:
            break
    pytest.fail(f"no line starting {prefix!r} within {timeout} s (exit {process.poll()})")


def _wait_ready(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling an HTTP endpoint from a thread-free test: bounded above
    pytest.fail(f"the job did not become ready within {timeout} s")


def _stop(process: subprocess.Popen[str], sig: signal.Signals, timeout: float) -> tuple[int, str]:
    """Signal the process; its exit status and what it wrote to stderr (pipes closed)."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate(timeout=10)
    return process.returncode, stderr


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    return Shell(tmp_path, {"9092": _free_port(), "9249": _free_port()})


def test_the_readme_walkthrough_runs_as_written(shell: Shell) -> None:
    (broker_step, write_job, run_job, produce_and_tail, look), expected = _blocks()
    broker = shell.start(broker_step)
    job: subprocess.Popen[str] | None = None
    try:
        line = _wait_for_line(broker, "bootstrap: ", 30)
        assert line.strip() == f"bootstrap: 127.0.0.1:{shell.ports['9092']}"

        written = shell.run(write_job)
        assert written.returncode == 0, written.stderr
        assert (shell.cwd / "wordcount.py").is_file()

        job = shell.start(run_job)
        _wait_ready(shell.ports["9249"], 60)

        done = shell.run(produce_and_tail)
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected

        if shutil.which("curl") is None:  # pragma: no cover - curl is on every dev machine
            pytest.skip("curl is not installed: the last step is the user's curl")
        looked = shell.run(look)
        assert looked.returncode == 0, looked.stderr
        metrics_lines, _, job_json = looked.stdout.partition("\n{")
        assert re.search(
            r'^streamrt_operator_records_out_total\{.*operator="count".*\} 6\.0$',
            metrics_lines,
            re.M,
        ), metrics_lines
        assert json.loads("{" + job_json)["status"] == "running"

        status, job_stderr = _stop(job, signal.SIGTERM, 30)
        assert status == 0, job_stderr  # graceful: a final checkpoint, exit 0
        assert "job 'wordcount:build' finished in" in job_stderr
        assert (shell.cwd / "checkpoints" / "wordcount-build").is_dir()
    finally:
        if job is not None:
            _stop(job, signal.SIGKILL, 10)
        status, broker_stderr = _stop(broker, signal.SIGINT, 30)
    assert status == 0, broker_stderr  # Ctrl-C stops the broker cleanly
