"""The worker's HTTP endpoints, scraped over real HTTP: exact counts, watermarks, health."""

from __future__ import annotations

import asyncio
import gzip
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from metrics import MetricsServer
from metrics.names import METRICS, render_markdown
from streamrt import (
    DataGeneratorSource,
    DataStream,
    JobCancelledError,
    OutputTag,
    StreamExecutionEnvironment,
    WatermarkStrategy,
)
from streamrt.runtime.job import Job, JobStatus
from streamrt.testing import FAIL, CollectSink, ListSource
from tests.conftest import bounded, wait_until


async def request(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    """One HTTP request over TCP (urllib, in a thread): status, headers and the raw body."""

    def fetch() -> tuple[int, Message, bytes]:
        sent = urllib.request.Request(url, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(sent, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    return await bounded(asyncio.to_thread(fetch), 15)


async def get(url: str) -> tuple[int, str]:
    status, _, body = await request(url)
    return status, body.decode()


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def by_operator(values: dict[tuple[tuple[str, str], ...], float]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for labels, value in values.items():
        operator = dict(labels)["operator"]
        totals[operator] = totals.get(operator, 0) + value
    return totals


async def test_scraped_counts_equal_what_the_job_processed(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    odd = OutputTag[int]("odd")

    def route(v: int, ctx: Any, out: Any) -> None:
        if v % 2:
            ctx.output(odd, v)
        else:
            out.collect(v)

    values = list(range(200))
    strategy = WatermarkStrategy.for_monotonous_timestamps()
    routed: DataStream[int] = (
        env.from_source(
            ListSource(values, timestamps=[10_000 + v for v in values]), strategy, "numbers"
        )
        .process(route)
        .name("route")
    )
    routed.map(lambda v: v * 2).name("double").sink_to(CollectSink()).name("double sink")
    routed.map(lambda v: v + 1).name("increment").sink_to(CollectSink()).name("increment sink")
    routed.get_side_output(odd).rebalance().sink_to(CollectSink()).name("odd sink")
    job = env.create_job("counted")
    async with MetricsServer(job, host="127.0.0.1", port=0) as server:
        await bounded(job.run())
        status, text = await get(f"{server.url}/metrics")
    assert status == 200
    records_in = by_operator(samples(text, "streamrt_operator_records_in_total"))
    records_out = by_operator(samples(text, "streamrt_operator_records_out_total"))
    assert records_in["route"] == 200
    assert records_out["route"] == 200  # 100 main + 100 side, each counted once
    assert records_in["double"] == records_in["increment"] == 100  # the fan-out
    assert records_out["odd sink"] == 100
    assert records_out["Source: numbers"] == 200
    watermarks = samples(text, "streamrt_operator_current_output_watermark_ms")
    assert set(watermarks.values()) == {float(2**63 - 1)}  # the last watermark: end of input
    assert {dict(k)["job_name"] for k in watermarks} == {"counted"}
    assert samples(text, "streamrt_job_running") == {(("job_name", "counted"),): 0.0}
    assert any(f.name == "process_cpu_seconds" for f in text_string_to_metric_families(text))


async def test_watermark_gauges_show_the_last_watermark_of_a_running_job(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(auto_watermark_interval_ms=20)
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(100).with_timestamp_assigner(
        lambda v, _: 1_000 + min(v, 500)  # event time stops at 1500
    )
    sink: CollectSink[int] = CollectSink()
    env.from_source(
        DataGeneratorSource(lambda i: i, records_per_second=5_000), strategy, "gen"
    ).map(lambda v: v).name("pass").sink_to(sink)
    job = env.create_job("live")
    running = asyncio.create_task(job.run())
    try:
        async with MetricsServer(job, host="127.0.0.1", port=0) as server:
            await sink.wait_for(600)  # past the timestamp plateau
            await wait_until(
                lambda: job.statistics().operator("pass").current_output_watermark == 1_399,
                what="the watermark of the plateau",
            )
            _, text = await get(f"{server.url}/metrics")
    finally:
        job.cancel()
        (ended,) = await bounded(asyncio.gather(running, return_exceptions=True))
    assert isinstance(ended, JobCancelledError), ended
    assert job.status is JobStatus.CANCELED
    values = by_operator(samples(text, "streamrt_operator_current_output_watermark_ms"))
    assert values["pass"] == 1_399  # max timestamp 1500 - 100 out-of-orderness - 1


async def test_health_and_readiness_for_running_finished_and_failed_jobs(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    def endless() -> Job:
        env = env_factory()
        env.from_source(DataGeneratorSource(lambda i: i, records_per_second=1_000)).sink_to(
            CollectSink()
        )
        return env.create_job("endless")

    server = await MetricsServer(None, host="127.0.0.1", port=0).start()
    try:
        status, body = await get(f"{server.url}/readyz")
        assert (status, json.loads(body)["reason"]) == (503, "no job yet")

        server.job = job = endless()
        running = asyncio.create_task(job.run())
        await wait_until(lambda: job.running_tasks == len(job.tasks) > 0, what="running tasks")
        await wait_until(lambda: all(t.ready for t in job.tasks), what="connected sources")
        status, body = await get(f"{server.url}/healthz")
        assert (status, json.loads(body)["status"]) == (200, "running")
        status, body = await get(f"{server.url}/readyz")
        assert (status, json.loads(body)) == (200, {"ready": True, "status": "running"})
        status, body = await get(f"{server.url}/job")
        described = json.loads(body)
        assert status == 200 and described["status"] == "running"
        assert [t["name"] for t in described["graph"]["tasks"]] == [
            "Source: DataGeneratorSource -> Sink: CollectSink"
        ]
        job.stop()
        await bounded(running)
        assert job.status is JobStatus.FINISHED
        status, body = await get(f"{server.url}/healthz")
        assert (status, json.loads(body)["status"]) == (200, "finished")
        status, body = await get(f"{server.url}/readyz")
        assert (status, json.loads(body)) == (503, {"ready": False, "reason": "job is finished"})

        env = env_factory()
        env.from_source(ListSource([1, FAIL]), source_name="flaky").sink_to(CollectSink())
        server.job = failing = env.create_job("failing")
        with pytest.raises(Exception, match="FAIL injected"):
            await bounded(failing.run())
        status, body = await get(f"{server.url}/healthz")
        assert status == 503
        assert "operator 'Source: flaky'" in json.loads(body)["error"]
        status, body = await get(f"{server.url}/readyz")
        answer = json.loads(body)
        assert status == 503 and answer["ready"] is False
        assert answer["reason"].startswith("job is failed: ")
        assert "FAIL injected" in answer["error"]
    finally:
        await server.stop()
    await server.stop()  # idempotent


async def test_job_describes_every_operator_and_task_with_its_counts(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    env = env_factory(parallelism=2)
    env.from_source(ListSource(list(range(50))), source_name="numbers").map(lambda v: v).name(
        "pass"
    ).sink_to(CollectSink()).name("out")
    job = env.create_job("described")
    async with MetricsServer(None, host="127.0.0.1", port=0) as server:
        status, body = await get(f"{server.url}/job")
        assert (status, json.loads(body)) == (404, {"error": "no job yet"})
        server.job = job
        await bounded(job.run())
        status, body = await get(f"{server.url}/job")
    assert status == 200
    described = json.loads(body)
    assert (described["job"], described["status"]) == ("described", "finished")
    operators = described["operators"]
    assert set(operators[0]) == {
        "task",
        "operator",
        "id",
        "subtask",
        "records_in",
        "records_out",
        "late_records_dropped",
        "errors",
        "current_input_watermark",
        "current_output_watermark",
    }
    records_in = {o["operator"]: 0 for o in operators}
    for o in operators:
        records_in[o["operator"]] += o["records_in"]
    assert (records_in["pass"], records_in["out"]) == (50, 50)
    assert {o["subtask"] for o in operators if o["operator"] == "pass"} == {0, 1}
    assert set(described["tasks"][0]) == {
        "task",
        "subtask",
        "status",
        "busy_seconds",
        "idle_seconds",
        "backpressured_seconds",
        "records_in",
        "records_out",
    }
    assert {t["status"] for t in described["tasks"]} == {"finished"}
    assert described["checkpoints"]["completed"] == 0


async def finished_job_server(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> MetricsServer:
    """A server (not started yet) exposing a finished job that counted 30 records."""
    env = env_factory()
    env.from_source(ListSource(list(range(30))), source_name="numbers").sink_to(CollectSink())
    job = env.create_job("negotiated")
    await bounded(job.run())
    return MetricsServer(job, host="127.0.0.1", port=0)


def streamrt_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every ``streamrt_*`` sample of a Prometheus text or OpenMetrics body."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("streamrt_")
    }


async def test_metrics_default_to_the_prometheus_text_format(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    async with await finished_job_server(env_factory) as server:
        status, headers, body = await request(f"{server.url}/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert headers["Content-Encoding"] is None
    text = body.decode()
    assert "# EOF" not in text
    assert by_operator(samples(text, "streamrt_operator_records_out_total")) == {
        "Source: numbers": 30,
        "Sink: CollectSink": 30,
    }


async def test_metrics_in_openmetrics_when_the_client_asks_for_it(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    accept = "application/openmetrics-text; version=1.0.0"
    async with await finished_job_server(env_factory) as server:
        _, _, plain = await request(f"{server.url}/metrics")
        status, headers, body = await request(f"{server.url}/metrics", headers={"Accept": accept})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = body.decode()
    assert text.endswith("# EOF\n")
    assert streamrt_samples(text) == streamrt_samples(plain.decode())


async def test_metrics_gzipped_when_the_client_accepts_gzip(
    env_factory: Callable[..., StreamExecutionEnvironment],
) -> None:
    async with await finished_job_server(env_factory) as server:
        _, _, plain = await request(f"{server.url}/metrics")
        status, headers, body = await request(
            f"{server.url}/metrics", headers={"Accept-Encoding": "gzip"}
        )
        _, identity_headers, identity = await request(
            f"{server.url}/metrics", headers={"Accept-Encoding": "identity"}
        )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = gzip.decompress(body).decode()
    assert streamrt_samples(text) == streamrt_samples(plain.decode()) != {}
    assert {f.name for f in text_string_to_metric_families(text)} == {
        f.name for f in text_string_to_metric_families(plain.decode())
    }
    assert identity_headers["Content-Encoding"] is None
    assert streamrt_samples(identity.decode()) == streamrt_samples(plain.decode())


async def test_head_answers_like_get_without_a_body() -> None:
    async with MetricsServer(None, host="127.0.0.1", port=0) as server:
        for path, expected in (("/metrics", 200), ("/healthz", 200), ("/readyz", 503)):
            status, headers, body = await request(f"{server.url}{path}", method="HEAD")
            assert (path, status, body) == (path, expected, b"")
            assert int(headers["Content-Length"]) > 0


async def test_bad_requests_get_clear_answers() -> None:
    async with MetricsServer(None, host="127.0.0.1", port=0) as server:
        status, body = await get(f"{server.url}/nope")
        assert status == 404
        assert body == "no endpoint /nope; try /metrics, /healthz, /readyz, /job\n"
        for method in ("POST", "PUT", "DELETE"):
            status, headers, raw = await request(f"{server.url}/metrics", method=method)
            assert (method, status) == (method, 405)
            assert headers["Allow"] == "GET,HEAD"
            assert raw.decode() == f"method {method} not allowed; use GET or HEAD\n"
        status, body = await get(f"{server.url}/healthz/")  # a trailing slash is fine
        assert (status, json.loads(body)["status"]) == (200, "none")
        reader, writer = await bounded(asyncio.open_connection("127.0.0.1", server.port))
        writer.write(b"garbage\r\n\r\n")
        response = await bounded(reader.read())
        writer.close()
        await bounded(writer.wait_closed())
        assert response.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")


async def test_port_zero_binds_a_free_port_and_a_second_start_is_refused() -> None:
    server = MetricsServer(None, host="127.0.0.1", port=0)
    async with server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        with pytest.raises(RuntimeError, match="already listening"):
            await server.start()
    with pytest.raises(OSError):
        await bounded(asyncio.open_connection("127.0.0.1", server.port))


def test_every_metric_is_documented_and_the_doc_is_current() -> None:
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
    assert doc.read_text() == render_markdown(), (
        "regenerate: python -m metrics.names > docs/metrics.md"
    )
    names = [m.full_name for m in METRICS]
    assert len(names) == len(set(names))
    assert all(m.kind != "counter" or m.name.endswith("_total") for m in METRICS)


def test_every_connector_metric_name_is_declared() -> None:
    import ast
    from pathlib import Path

    declared = {m.name for m in METRICS}
    root = Path(__file__).resolve().parents[2] / "streamrt"
    used = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "ConnectorMetric"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used.add(node.args[0].value)
    assert used, "found no connector metrics: the scan is broken"
    assert used <= declared, used - declared
