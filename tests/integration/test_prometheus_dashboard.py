"""A real Prometheus (Debian's package) scrapes a running job; every query of the shipped
Grafana dashboard, with its variables substituted, returns data through Prometheus' HTTP API."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from metrics import MetricsServer
from streamrt import DataGeneratorSource, StreamExecutionEnvironment, WatermarkStrategy
from streamrt.connectors.kafka import KafkaSink, KafkaSource, json_deserializer, json_serializer
from streamrt.runtime.job import Job
from tests.conftest import cancel_and_expect_cancelled
from tests.e2e.test_metrics_endpoints import get
from tests.integration.conftest import Kafka

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "metrics" / "grafana" / "streamrt-dashboard.json"
JOB = "dashboard-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """A Prometheus server on a free loopback port, scraping one target every second.

    ``rules``: alert rule files to load (evaluated every second), as ``rule_files``.
    """

    def __init__(self, target: str, workdir: Path, rules: Sequence[Path] = ()) -> None:
        binary = shutil.which("prometheus")
        assert binary is not None, "prometheus is missing: `make test` installs Debian's package"
        self.port = free_port()
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            # as metrics/prometheus/prometheus.yml: `job` is the scrape job, `job_name` streamrt's
            f"scrape_configs:\n  - job_name: streamrt\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
            + ("rule_files:\n" + "".join(f"  - '{rule}'\n" for rule in rules) if rules else "")
        )
        self.log = (workdir / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "prometheus exited early; see prometheus.log"
            try:
                status, _ = await get(f"{self.url}/-/ready")
            except OSError:
                status = 0
            if status == 200:
                return
            await asyncio.sleep(0.1)
        pytest.fail(f"prometheus not ready after {timeout} s")

    async def query(self, expr: str) -> dict[str, Any]:
        status, body = await get(f"{self.url}/api/v1/query?query={urllib.parse.quote(expr)}")
        assert status == 200, f"{expr}: HTTP {status}: {body}"
        answer: dict[str, Any] = json.loads(body)
        assert answer["status"] == "success", f"{expr}: {answer}"
        data: dict[str, Any] = answer["data"]
        return data

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


def dashboard_queries() -> Iterator[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for sub in [panel, *panel.get("panels", [])]:
            for target in sub.get("targets", []):
                if target.get("expr"):
                    yield sub.get("title", "?"), target["expr"]


def substitute(expr: str) -> str:
    return (
        expr.replace("${job_name}", JOB)
        .replace("$job_name", JOB)
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "5m")
    )


def build(env: StreamExecutionEnvironment, bootstrap: str, topics: dict[str, str]) -> None:
    """Every metric family the dashboard shows: sources, sinks, a keyed channel, watermarks,
    checkpoints, a dead-letter topic, an error policy."""
    env.enable_checkpointing(200)
    generated = env.from_source(
        DataGeneratorSource(
            lambda i: {"n": i, "user": f"u{i % 7}", "ts": time.time_ns() // 1_000_000},
            records_per_second=500,
        ),
        source_name="generator",
    )
    generated.sink_to(
        KafkaSink(
            bootstrap_servers=bootstrap, topic=topics["orders"], value_serializer=json_serializer
        )
    ).name("to kafka")
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(500).with_timestamp_assigner(
        lambda order, _: order["ts"]
    )
    (
        env.from_source(
            KafkaSource(
                bootstrap_servers=bootstrap,
                topics=[topics["orders"]],
                group_id=f"dash-{topics['orders']}",
                value_deserializer=json_deserializer,
                dead_letter_topic=topics["dlq"],
            ),
            strategy,
            "orders",
        )
        .map(lambda order: {**order, "double": order["n"] * 2})
        .name("enrich")
        .on_error("skip")
        .key_by(lambda order: order["user"])
        .reduce(lambda a, b: {**b, "count": a.get("count", 1) + 1})
        .name("count per user")
        .sink_to(
            KafkaSink(
                bootstrap_servers=bootstrap,
                topic=topics["counts"],
                value_serializer=json_serializer,
            )
        )
        .name("counts")
    )


@pytest.fixture
async def scraped_job(kafka: Kafka, tmp_path: Path) -> AsyncIterator[tuple[Job, Prometheus]]:
    topics = {
        "orders": await kafka.create_topic(2, "orders"),
        "counts": await kafka.create_topic(2, "counts"),
        "dlq": await kafka.create_topic(1, "dlq"),
    }
    env = StreamExecutionEnvironment(parallelism=2, auto_watermark_interval_ms=100)
    build(env, kafka.bootstrap, topics)
    job = env.create_job(JOB)
    running = asyncio.create_task(job.run())
    server = await MetricsServer(job, host="127.0.0.1", port=0).start()
    prometheus = Prometheus(f"127.0.0.1:{server.port}", tmp_path)
    try:
        await prometheus.wait_ready()
        yield job, prometheus
    finally:
        prometheus.stop()
        try:
            await cancel_and_expect_cancelled((job, running))
        finally:
            await server.stop()


async def test_every_dashboard_query_returns_data(scraped_job: tuple[Job, Prometheus]) -> None:
    job, prometheus = scraped_job
    queries = list(dashboard_queries())
    # the dashboard is the product under test and grows with it; the loop below runs every
    # query whatever their number, this only catches a parse that found (almost) none
    assert len(queries) >= 10, "the dashboard lost its panels"
    # enough scrapes for rate() over 1m and for checkpoints and watermarks to appear
    deadline = time.monotonic() + 60
    durations = f'streamrt_checkpoint_last_duration_seconds{{job_name="{JOB}"}}'
    needed = f"count_over_time({durations}[1m]) >= 4"
    while not (await prometheus.query(needed))["result"]:
        assert job.status.value == "running", f"the job stopped: {job.failure}"
        assert time.monotonic() < deadline, "prometheus did not collect enough samples in 60 s"
        await asyncio.sleep(0.5)
    empty = []
    for title, expr in queries:
        data = await prometheus.query(substitute(expr))
        if not data["result"]:
            empty.append(f"{title}: {substitute(expr)}")
    assert empty == [], "panel queries without data:\n" + "\n".join(empty)
