"""The public API is ``streamrt.__all__`` (sorted, complete) and the layers import downwards."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
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
    exports = streamrt._EXPORTS
    assert set(streamrt.__all__) == set(exports)
    for name, module in exports.items():  # each name resolves, from the module it names
        value = getattr(streamrt, name)
        assert value is getattr(importlib.import_module(module), name)
    assert set(streamrt.__all__) <= set(dir(streamrt))
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = streamrt.Nope


def test_type_checkers_see_the_same_names_as_the_lazy_facade() -> None:
    tree = ast.parse((ROOT / "streamrt" / "__init__.py").read_text())
    seen = {
        alias.name: node.module
        for block in tree.body
        if isinstance(block, ast.If)  # the `if TYPE_CHECKING:` block
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == streamrt._EXPORTS


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


# Layers, bottom-up, and what a module of each may load (its own layer and those below it).
# The streamrt facade is lazy, so importing a module loads nothing above its layer.
_LAYERS: dict[str, tuple[str, ...]] = {
    "runtime": ("streamrt.errors", "streamrt.runtime"),
    # what users implement or declare: function types, state descriptors, window assigners
    "functions": (
        "streamrt.functions",
        "streamrt.state_descriptors",
        "streamrt.state_ttl",
        "streamrt.time",
        "streamrt.typeinfo",
        "streamrt.windowing",
        "streamrt.co_functions",
        "streamrt.async_io",
    ),
    "operators": ("operators",),
    "connectors": ("streamrt.connectors",),
    "api": (
        "streamrt.datastream",
        "streamrt.environment",
        "streamrt.plan",
        "streamrt.windowed_stream",
        "streamrt.connected_streams",
        "streamrt.join",
    ),
    "metrics": ("metrics",),
    "service": ("streamrt.cli", "streamrt.service", "streamrt.control", "streamrt.watchdog"),
    "testing": ("streamrt.testing",),
}
_MAY_LOAD: dict[str, set[str]] = {
    "runtime": {"runtime"},
    "functions": {"runtime", "functions"},
    "operators": {"runtime", "functions", "operators"},
    "connectors": {"runtime", "connectors"},
    "api": {"runtime", "functions", "operators", "connectors", "api"},
    "metrics": {"runtime", "metrics"},
    "service": {"runtime", "functions", "operators", "connectors", "api", "metrics", "service"},
    "testing": set(_LAYERS),
}
_THIRD_PARTY = {  # heavy or optional dependencies, and the layers allowed to load them
    "aiokafka": ("streamrt.connectors.kafka", "streamrt.testing"),
    "prometheus_client": ("metrics", "streamrt.cli", "streamrt.service"),
}


def _layer_of(module: str) -> str | None:
    for layer, prefixes in _LAYERS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    return None


def _all_modules() -> list[str]:
    found = []
    for package in ("streamrt", "operators", "metrics"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append(".".join(parts))
    return found


def _loaded_by(module: str) -> list[str]:
    code = f"import sys, {module}; print(*sorted(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, f"importing {module} alone failed:\n{done.stderr}"
    return done.stdout.split()


@pytest.mark.slow
def test_each_module_alone_loads_only_its_layer_and_below() -> None:
    modules = _all_modules()
    with ThreadPoolExecutor(max_workers=4) as pool:
        loaded = dict(zip(modules, pool.map(_loaded_by, modules), strict=True))
    violations = []
    for module, names in loaded.items():
        layer = _layer_of(module)
        for name in names:
            other = _layer_of(name)
            if layer is None:  # the facade itself: lazy, loads nothing of ours
                if other is not None:
                    violations.append(f"import {module} loads {name}")
            elif other is not None and other not in _MAY_LOAD[layer]:
                violations.append(f"import {module} ({layer}) loads {name} ({other})")
            top = name.split(".")[0]
            allowed = _THIRD_PARTY.get(top)
            if allowed is not None and not module.startswith(allowed):
                violations.append(f"import {module} loads {top}")
    assert sorted(set(violations)) == []


def test_production_code_does_not_import_the_testing_package() -> None:
    offenders = []
    for package in ("streamrt", "operators", "metrics"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "testing" in path.relative_to(ROOT).parts:
                continue
            if any(n.startswith("streamrt.testing") for n in _imports(path)):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


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
