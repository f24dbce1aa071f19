"""The compose deployment keeps its data, bounds its resources and logs, and ships alerting.

Read statically, like test_compose.py (no Docker engine on dev or CI machines): the file as
Debian's docker-compose 1.29 resolves it (`docker-compose config`), so YAML anchors and defaults
are applied as Docker would.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_compose import COMPOSE, DOCKERFILE, ROOT, docker_compose, load_yaml

LOCK = ROOT / "requirements.lock"

#: named volume -> (service, mount point): what survives `docker compose down && up`
PERSISTED = {
    "kafka-data": ("kafka", "/var/lib/kafka/data"),
    "job-checkpoints": ("job", "/var/lib/streamrt/checkpoints"),
    "prometheus-data": ("prometheus", "/prometheus"),
}


@functools.cache
def resolved() -> dict[str, Any]:
    """The stack as docker-compose resolves it (anchors merged, volumes normalized)."""
    run = subprocess.run(
        [docker_compose(), "-f", str(COMPOSE), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "resolved.yml"
        path.write_text(run.stdout)
        result: dict[str, Any] = load_yaml(path)
    return result


def mounts(service: str) -> dict[str, str]:
    """target -> source of a service's volumes, from the file as written."""
    found = {}
    for volume in load_yaml(COMPOSE)["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        found[target] = source
    return found


@pytest.mark.slow
def test_data_lives_in_named_volumes() -> None:
    stack = load_yaml(COMPOSE)
    assert set(PERSISTED) <= set(stack["volumes"])
    for volume, (service, target) in PERSISTED.items():
        assert mounts(service).get(target) == volume, f"{service} must mount {volume} at {target}"
    kafka = stack["services"]["kafka"]["environment"]
    assert kafka["KAFKA_LOG_DIRS"] == PERSISTED["kafka-data"][1], "else Kafka writes /tmp"
    flags = stack["services"]["prometheus"]["command"]
    assert "--storage.tsdb.path=/prometheus" in flags
    assert any(re.fullmatch(r"--storage\.tsdb\.retention\.time=\d+[dhw]", f) for f in flags)
    assert "--config.file=/etc/prometheus/prometheus.yml" in flags


@pytest.mark.slow
def test_every_service_has_limits_and_rotated_logs() -> None:
    for name, service in resolved()["services"].items():
        assert float(service["cpus"]) > 0, f"{name} has no CPU limit"
        assert service.get("mem_limit"), f"{name} has no memory limit"
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert set(logging.get("options", {})) >= {"max-size", "max-file"}, name
    assert float(resolved()["services"]["job"]["cpus"]) == 1.0, "one event loop: one core"


def test_the_generator_runs_under_an_init() -> None:
    assert load_yaml(COMPOSE)["services"]["generator"]["init"] is True


def test_prometheus_loads_the_alerts_and_sends_them_to_alertmanager() -> None:
    stack = load_yaml(COMPOSE)
    assert mounts("prometheus")["/etc/prometheus/alerts.yml"] == "./metrics/prometheus/alerts.yml"
    alertmanager = stack["services"]["alertmanager"]
    assert alertmanager["image"].startswith("prom/alertmanager:v")
    config = mounts("alertmanager")["/etc/alertmanager/alertmanager.yml"]
    routes = load_yaml(ROOT / config)
    receivers = {r["name"]: r for r in routes["receivers"]}
    assert routes["route"]["receiver"] in receivers
    prometheus = load_yaml(ROOT / "metrics" / "prometheus" / "prometheus.yml")
    targets = [
        t
        for a in prometheus["alerting"]["alertmanagers"]
        for c in a["static_configs"]
        for t in c["targets"]
    ]
    assert targets == ["alertmanager:9093"]


def test_the_job_stops_gracefully_and_fails_when_stalled() -> None:
    job = load_yaml(COMPOSE)["services"]["job"]
    command = job["command"]
    assert command[command.index("--stall-timeout") + 1] == "60"
    grace = int(job["stop_grace_period"].removesuffix("s"))
    assert grace > float(command[command.index("--shutdown-timeout") + 1])
    assert job["restart"] == "unless-stopped"  # what acts on the watchdog's exit


def test_dependencies_install_from_the_lock_before_the_project() -> None:
    text = DOCKERFILE.read_text()
    lock_install = text.index("--require-hashes -r /tmp/requirements.lock")
    project_copy = text.index("COPY streamrt/")
    assert lock_install < project_copy, "a source edit must not reinstall the dependencies"
    assert "pip install --no-cache-dir --no-deps ." in text
    assert re.search(r"^USER streamrt$", text, re.MULTILINE)
    assert "imagetools inspect" in text  # how to pin the base image's digest


def test_the_lock_pins_every_runtime_dependency() -> None:
    pinned = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", line)
        if match:
            pinned[match[1].lower().replace("_", "-")] = match[2]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for requirement in project["project"]["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name is not None
        assert name[0].lower() in pinned, f"{name[0]} is not pinned in requirements.lock"
