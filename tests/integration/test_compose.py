"""Static checks of docker-compose.yml, the Dockerfile, the Prometheus config and the dashboard.

No Docker engine exists on dev or CI machines, so nothing here starts a container: Debian's
docker-compose validates the file against its Compose schema, and the rest is read as data.
YAML is parsed by docker-compose's own interpreter (PyYAML is not a project dependency).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from metrics.names import METRICS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS = ROOT / "metrics" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "metrics" / "grafana" / "streamrt-dashboard.json"
BUILT = {"job", "generator"}  # the services built from ./Dockerfile


def docker_compose() -> str:
    binary = shutil.which("docker-compose")
    assert binary is not None, (
        "docker-compose is missing: run `scripts/ensure-system-packages docker-compose` "
        "(Debian's docker-compose 1.29, which validates without a Docker engine)"
    )
    return binary


@functools.cache
def load_yaml(path: Path) -> Any:
    """Parse with the PyYAML of the Python that runs docker-compose (its shebang); read-only."""
    with Path(docker_compose()).open() as script:
        python = script.readline().removeprefix("#!").strip()
    code = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)"
    out = subprocess.run(
        [*python.split(), "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = load_yaml(COMPOSE)["services"]
    return result


def assert_pinned(image: str, where: str) -> None:
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"{where}: image {image!r} has no tag"
    assert tag != "latest", f"{where}: image {image!r} is not pinned"
    assert re.search(r"\d+\.\d+\.\d+", tag), f"{where}: tag of {image!r} is no exact version"


@pytest.mark.slow
def test_docker_compose_accepts_the_file() -> None:
    run = subprocess.run(
        [docker_compose(), "-f", str(COMPOSE), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "version" not in load_yaml(COMPOSE), "the Compose Specification has no `version:`"


def test_the_stack_has_its_services() -> None:
    stack = services()
    assert set(stack) == {
        "kafka",
        "topics",
        "job",
        "generator",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert stack["job"]["depends_on"]["topics"] == {"condition": "service_completed_successfully"}


def test_every_image_is_pinned() -> None:
    for name, service in services().items():
        if name in BUILT:
            assert service["build"] == ".", f"{name} is built from ./Dockerfile"
        else:
            assert "build" not in service, name
            assert_pinned(service["image"], name)
    bases = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert bases, "Dockerfile has no FROM"
    for base in bases:
        assert_pinned(base, "Dockerfile")


def test_every_mounted_or_copied_path_exists() -> None:
    sources = [
        volume.split(":")[0]
        for service in services().values()
        for volume in service.get("volumes", [])
        if volume.startswith(".")
    ]
    assert sources, "no bind mounts found"
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources.extend(arg for arg in line.split()[1:-1] if not arg.startswith("--"))
    for source in sources:
        assert (ROOT / source).exists(), f"{source} is mounted or copied but not in the repo"


def test_prometheus_scrapes_the_job() -> None:
    config = load_yaml(PROMETHEUS)
    (scrape,) = config["scrape_configs"]
    # the scrape job keeps `job`; streamrt's own label is `job_name`, so nothing to honour
    assert "honor_labels" not in scrape, "honor_labels would split the process's identity"
    assert scrape["job_name"] == "streamrt"
    assert [t for c in scrape["static_configs"] for t in c["targets"]] == ["job:9249"]


def dashboard() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return result


def exprs() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def test_dashboard_has_the_job_variable() -> None:
    board = dashboard()
    assert board["uid"] == "streamrt"
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == "job_name"]
    query = variable["query"]
    query = query["query"] if isinstance(query, dict) else query
    assert query == "label_values(streamrt_job_running, job_name)"
    assert variable["multi"] and variable["includeAll"]


def test_every_panel_queries_the_selected_jobs() -> None:
    for panel in dashboard()["panels"]:
        assert panel["targets"], f"panel {panel['title']!r} has no target"
        for target in panel["targets"]:
            assert target["refId"] and target["expr"], panel["title"]
            assert target["datasource"]["uid"] == "prometheus", panel["title"]
            selectors = re.findall(r"streamrt_\w+(\{[^}]*\})?", target["expr"])
            assert all('job_name=~"$job_name"' in s for s in selectors), target["expr"]


def test_dashboard_metrics_are_declared() -> None:
    # Counters are declared and exported with their _total, so names compare as they are.
    kinds = {spec.full_name: spec.kind for spec in METRICS}
    # a histogram is read through its _bucket/_sum/_count series, which are counters
    for spec in METRICS:
        if spec.kind == "histogram":
            kinds |= {f"{spec.full_name}_{part}": "counter" for part in ("bucket", "sum", "count")}
    for expr in exprs():
        for name in re.findall(r"\bstreamrt_\w+", expr):
            assert name in kinds, f"{name} (in {expr}) is not in metrics.names.METRICS"
            assert kinds[name] != "histogram", f"query {name}_bucket, not the family: {expr}"
            rated = re.search(rf"\b(?:rate|increase)\({name}\b", expr) is not None
            assert rated == (kinds[name] == "counter"), (
                f"rate()/increase() counters, never gauges: {expr}"
            )


def grafana_free(expr: str) -> str:
    """The query with Grafana's variables replaced by what they stand for."""
    return expr.replace("$job_name", ".*").replace("$__rate_interval", "1m")


@pytest.mark.prometheus
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """promtool parses every expression as a recording rule: PromQL syntax, offline."""
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: install Debian's prometheus"
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expr{i}", "expr": grafana_free(expr)}
                    for i, expr in enumerate(exprs())
                ],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    for args in (["check", "rules", str(path)], ["check", "config", str(PROMETHEUS)]):
        run = subprocess.run([promtool, *args], capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
