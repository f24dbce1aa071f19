"""Key groups: stable across processes, contiguous ranges, Flink's defaults."""

from __future__ import annotations

import dataclasses
import enum
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streamrt import RecordError
from streamrt.runtime.key_groups import (
    KeyGroupAssigner,
    compute_default_max_parallelism,
    key_group_range,
    operator_index_for_key_group,
    stable_hash,
)
from streamrt.runtime.partitioners import KeyGroupStreamPartitioner

KEYS = ["user-1", "user-2", "ü-nicode", b"raw", 42, -7, 3.5, True, None, ("a", 1), ("b", (2, "c"))]
SCRIPT = """
import json
from streamrt.runtime.key_groups import KeyGroupAssigner
keys = ["user-1", "user-2", "ü-nicode", b"raw", 42, -7, 3.5, True, None, ("a", 1), ("b", (2, "c"))]
a = KeyGroupAssigner(128)
print(json.dumps([a.key_group(k) for k in keys]))
"""


def test_key_groups_are_the_same_in_processes_with_different_hash_seeds() -> None:
    root = Path(__file__).resolve().parents[3]
    results = []
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            timeout=60,
        )
        results.append(json.loads(done.stdout))
    here = [KeyGroupAssigner(128).key_group(k) for k in KEYS]
    assert results[0] == results[1] == here


def test_known_values_do_not_change() -> None:
    # part of the on-topic and checkpoint contract: changing these moves keys between subtasks
    keys = ("user-1", 42, ("a", 1), "ü-nicode")
    assert [KeyGroupAssigner(128).key_group(k) for k in keys] == [65, 92, 127, 5]
    assert stable_hash("user-1") == 2_116_437_524
    assert stable_hash(42) == 42


def test_dataclasses_enums_and_namedtuples_hash_by_value() -> None:
    @dataclasses.dataclass(frozen=True)
    class Key:
        region: str
        shard: int

    class Color(enum.Enum):
        RED = "red"

    assert stable_hash(Key("eu", 3)) == stable_hash(("eu", 3))
    assert stable_hash(Color.RED) == stable_hash("red")


def test_a_key_without_a_stable_hash_is_a_clear_error() -> None:
    class Opaque:
        pass

    with pytest.raises(RecordError, match=r"key .* of type .*Opaque has no stable hash"):
        KeyGroupAssigner(128).key_group(Opaque())


def test_an_unhashable_key_is_a_clear_error() -> None:
    with pytest.raises(RecordError, match=r"key \['a', 1\] of type list is not hashable"):
        KeyGroupAssigner(128).key_group(["a", 1])


def test_key_groups_spread_evenly() -> None:
    assigner = KeyGroupAssigner(128)
    counts = [0] * 128
    for i in range(128_00):
        counts[assigner.key_group(f"user-{i}")] += 1
    assert min(counts) > 50 and max(counts) < 160


@pytest.mark.parametrize("parallelism", [1, 2, 3, 4, 7, 128])
def test_ranges_are_contiguous_and_match_the_operator_index(parallelism: int) -> None:
    covered: list[int] = []
    for index in range(parallelism):
        groups = key_group_range(128, parallelism, index)
        covered.extend(groups)
        assert all(operator_index_for_key_group(128, parallelism, g) == index for g in groups)
    assert covered == list(range(128))


def test_partitioner_sends_a_key_to_the_subtask_owning_its_group() -> None:
    partitioner = KeyGroupStreamPartitioner(lambda v: v["user"], 128)
    partitioner.setup(4)
    for i in range(200):
        value = {"user": f"u{i}"}
        group = KeyGroupAssigner(128).key_group(f"u{i}")
        assert partitioner.select_channel(value) == operator_index_for_key_group(128, 4, group)


@pytest.mark.parametrize(
    ("parallelism", "expected"), [(1, 128), (85, 128), (86, 256), (1000, 2048), (30000, 32768)]
)
def test_default_max_parallelism(parallelism: int, expected: int) -> None:
    assert compute_default_max_parallelism(parallelism) == expected


def test_rescaling_splits_namespaced_timers_by_their_key() -> None:
    from streamrt.runtime.state_assignment import _redistribute

    old: list[dict[str, Any]] = [
        {"timers": {"event": [(5, "a"), (9, "b", "w")], "processing": [(7, "c", "w")]}},
        {"timers": {"event": [(3, "d", ("x", 1))], "processing": []}},
    ]
    states = _redistribute(old, 3, 128, "windows", "windows")
    assigner = KeyGroupAssigner(128)
    for key, timer, domain in [
        ("a", (5, "a"), "event"),
        ("b", (9, "b", "w"), "event"),
        ("c", (7, "c", "w"), "processing"),
        ("d", (3, "d", ("x", 1)), "event"),
    ]:
        owner = operator_index_for_key_group(128, 3, assigner.key_group(key))
        assert timer in states[owner]["timers"][domain]
    assert sum(len(s["timers"]["event"]) + len(s["timers"]["processing"]) for s in states) == 4
