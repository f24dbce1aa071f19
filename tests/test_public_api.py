"""The public API is ``streamrt.__all__`` (sorted, complete) and the layers import downwards."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import metrics
import operators
import streamrt

ROOT = Path(__file__).resolve().parent.parent


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_matches_the_public_names() -> None:
    assert list(streamrt.__all__) == sorted(streamrt.__all__, key=_isort_key)
    public = {
        name
        for name, value in vars(streamrt).items()
        if not name.startswith("_") and not isinstance(value, type(streamrt))
    }
    assert set(streamrt.__all__) == public


def test_packages_are_ours_not_similarly_named_ones() -> None:
    # `operators` is one letter from stdlib `operator`; `metrics` is a generic name
    for package in (streamrt, operators, metrics):
        assert Path(package.__file__ or "").resolve().is_relative_to(ROOT)


@pytest.mark.parametrize("first", ["operators", "operators.map", "metrics", "streamrt.runtime.job"])
def test_any_package_can_be_imported_first(first: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import {first}; import streamrt; streamrt.StreamExecutionEnvironment",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(package: Path, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        for name in _imports(path):
            if name.startswith(forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_runtime_imports_nothing_above_it() -> None:
    forbidden = (
        "operators",
        "metrics",
        "prometheus_client",
        "aiokafka",
        "streamrt.connectors",
        "streamrt.datastream",
        "streamrt.environment",
        "streamrt.functions",
    )
    assert _violations(ROOT / "streamrt" / "runtime", forbidden) == []


def test_operators_do_not_import_the_facade_or_metrics() -> None:
    forbidden = (
        "metrics",
        "prometheus_client",
        "aiokafka",
        "streamrt.datastream",
        "streamrt.environment",
        "streamrt.connectors",
    )
    violations = _violations(ROOT / "operators", forbidden)
    # `import streamrt` alone would load the facade
    for path in sorted((ROOT / "operators").rglob("*.py")):
        if "streamrt" in _imports(path):
            violations.append(f"{path.relative_to(ROOT)} imports the streamrt facade")
    assert violations == []


def test_aiokafka_is_imported_only_by_its_adapter() -> None:
    offenders = []
    for package in ("streamrt", "operators", "metrics"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if (
                any(n.startswith("aiokafka") for n in _imports(path))
                and path.name != "_aiokafka.py"
            ):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_prometheus_client_only_in_metrics() -> None:
    offenders = []
    for package in ("streamrt", "operators"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if any(n.startswith("prometheus_client") for n in _imports(path)):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
