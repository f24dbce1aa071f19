"""The shipped alert rules (``metrics/prometheus/alerts.yml``): checked and unit tested with
Debian's ``promtool``, and StreamrtJobDown end to end through a real Prometheus.

* ``promtool check rules``: the file parses and every expression is valid PromQL.
* ``promtool test rules metrics/prometheus/alerts_test.yml``: every alert fires on synthetic
  series that should page or ticket, with the labels and texts on-call sees, and stays quiet on
  series that should not.
* End to end: Prometheus scrapes a running job's metrics server, loads the alert rules (a
  test-local copy with every ``for:`` shortened to 2 s, so the test waits seconds, not a
  minute), the job's process "dies" (its metrics server stops, the job is cancelled), and the
  alert goes pending, then firing, through Prometheus's HTTP API.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from metrics import MetricsServer
from streamrt import DataGeneratorSource, StreamExecutionEnvironment
from streamrt.testing import CollectSink
from tests.conftest import cancel_and_expect_cancelled
from tests.e2e.test_metrics_endpoints import get
from tests.integration.test_compose import PROMETHEUS, load_yaml
from tests.integration.test_prometheus_dashboard import Prometheus

pytestmark = [pytest.mark.prometheus]

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "metrics" / "prometheus" / "alerts.yml"
ALERTS_TEST = ROOT / "metrics" / "prometheus" / "alerts_test.yml"
SEVERITIES = {"page", "ticket"}


def promtool(*args: str, cwd: Path | None = None) -> str:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool is missing: `make test` installs Debian's prometheus"
    run = subprocess.run([binary, *args], capture_output=True, text=True, check=False, cwd=cwd)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def test_promtool_checks_the_rules() -> None:
    assert "SUCCESS: 7 rules found" in promtool("check", "rules", str(ALERTS))


@pytest.mark.slow
def test_promtool_unit_tests_every_alert() -> None:
    assert "SUCCESS" in promtool("test", "rules", ALERTS_TEST.name, cwd=ALERTS_TEST.parent)


def test_every_alert_has_for_severity_and_texts_naming_the_job() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)), f"alert names repeat: {names}"
    assert {rule["alert"]: rule["labels"]["severity"] for rule in rules()} == {
        "StreamrtJobDown": "page",
        "StreamrtJobCrashLooping": "page",
        "StreamrtConsumerBehind": "page",
        "StreamrtCheckpointsStalled": "ticket",
        "StreamrtCheckpointsFailing": "ticket",
        "StreamrtOffsetCommitsFailing": "ticket",
        "StreamrtBadRecordRatioHigh": "ticket",
    }
    for rule in rules():
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        for text in ("summary", "description"):
            assert "{{ $labels.job_name }}" in rule["annotations"][text], (rule["alert"], text)


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    """Each alert has a promtool case where it fires and one where it must not."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(ALERTS_TEST)["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in rules()}
    assert alerts == firing, "alerts never seen firing in alerts_test.yml"
    assert alerts == quiet, "alerts never seen quiet in alerts_test.yml"


def test_prometheus_loads_the_alerts_and_sends_them_to_alertmanager() -> None:
    config = load_yaml(PROMETHEUS)
    assert config["rule_files"] == ["alerts.yml"]
    (manager,) = config["alerting"]["alertmanagers"]
    assert [t for c in manager["static_configs"] for t in c["targets"]] == ["alertmanager:9093"]
    promtool("check", "config", str(PROMETHEUS))  # also checks the rule files it names


async def alerts(prometheus: Prometheus, name: str) -> list[dict[str, Any]]:
    status, body = await get(f"{prometheus.url}/api/v1/alerts")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    return [a for a in answer["data"]["alerts"] if a["labels"]["alertname"] == name]


@pytest.mark.slow
async def test_job_down_goes_pending_then_firing_when_the_process_dies(tmp_path: Path) -> None:
    # the shipped rules with every `for:` shortened: the test waits seconds, not a minute
    shortened = load_yaml(ALERTS)
    for group in shortened["groups"]:
        for rule in group["rules"]:
            rule["for"] = "2s"
    local_rules = tmp_path / "alerts.yml"
    local_rules.write_text(json.dumps(shortened))  # JSON is YAML

    env = StreamExecutionEnvironment(parallelism=1)
    sink: CollectSink[int] = CollectSink()
    env.from_source(
        DataGeneratorSource(lambda i: i, records_per_second=200), source_name="numbers"
    ).map(lambda i: i + 1).name("increment").sink_to(sink)
    job = env.create_job("alerts-e2e")
    running = asyncio.create_task(job.run())
    server = await MetricsServer(job, host="127.0.0.1", port=0).start()
    prometheus = Prometheus(f"127.0.0.1:{server.port}", tmp_path, rules=[local_rules])
    try:
        await prometheus.wait_ready()
        # alive: Prometheus has seen the job running, and the alert stays quiet
        deadline = time.monotonic() + 30
        seen = 'streamrt_job_running{job_name="alerts-e2e"} * on (job, instance) up == 1'
        while not (await prometheus.query(seen))["result"]:
            assert time.monotonic() < deadline, "prometheus did not see the job running in 30 s"
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # a few evaluations of a healthy job (longer than `for:`)
        assert await alerts(prometheus, "StreamrtJobDown") == []

        # the process dies: nothing answers on its port any more, the job is gone
        await server.stop()
        await cancel_and_expect_cancelled((job, running))

        states: list[str] = []
        deadline = time.monotonic() + 30
        while "firing" not in states:
            assert time.monotonic() < deadline, f"StreamrtJobDown not firing in 30 s: {states}"
            for alert in await alerts(prometheus, "StreamrtJobDown"):
                if alert["state"] not in states:
                    states.append(alert["state"])
                assert alert["labels"]["job_name"] == "alerts-e2e"
                assert alert["labels"]["severity"] == "page"
                assert alert["annotations"]["summary"] == "streamrt job alerts-e2e is down"
            await asyncio.sleep(0.1)
        assert states == ["pending", "firing"]
    finally:
        prometheus.stop()
        if not running.done():
            await cancel_and_expect_cancelled((job, running))
        await server.stop()
