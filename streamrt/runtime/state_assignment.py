"""Assigns a checkpoint's state to the subtasks of a job, also at another parallelism.

Port of the role of Flink's ``StateAssignmentOperation``. Operators are matched by uid. At the
parallelism they were checkpointed with, each subtask gets its own state back. At another
parallelism:

* keyed state and timers are redistributed by key group: every key goes to the subtask that
  owns its key group under the new parallelism, with the same stable hash the ``key_by``
  partitioner uses, so each key's state arrives where its records will;
* a source's split positions are merged and given to every subtask; each reader takes the
  positions of the splits it owns (a Kafka partition is a split);
* broadcast state (``"broadcast"``: operator state that is the same on every subtask) is
  replicated: new subtask ``i`` gets the copy of old subtask ``i mod old parallelism``, as
  Flink's round-robin assignment of broadcast state;
* operator list state (an operator's ``"operator_lists"``: lists by name, e.g. the requests an
  async operator had in flight) is concatenated over the old subtasks and split into even,
  contiguous parts, one per new subtask (Flink's even-split redistribution of ``ListState``);
* any other non-empty state of an operator (operator state that cannot be split) is an error
  naming the operator.

State of an operator uid the job no longer has is an error naming the uid, unless the caller
allows non-restored state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from streamrt.errors import CheckpointError
from streamrt.runtime.completed_checkpoint import CompletedCheckpoint, TaskSnapshot, operator_uid
from streamrt.runtime.job_graph import JobVertex
from streamrt.runtime.key_groups import KeyGroupAssigner, operator_index_for_key_group

__all__ = ["assign_states"]

logger = logging.getLogger(__name__)

#: the parts of an operator's state_dict that are keyed (redistributable by key group)
_KEYED_PARTS = ("keyed", "timers")
#: the parts that every subtask holds a full copy of (broadcast state)
_REPLICATED_PARTS = ("broadcast",)
#: the part holding operator list state (lists by name, split evenly across subtasks)
_LIST_PART = "operator_lists"
#: every part that can move to another parallelism
_REDISTRIBUTED_PARTS = (*_KEYED_PARTS, *_REPLICATED_PARTS, _LIST_PART)


def assign_states(
    checkpoint: CompletedCheckpoint,
    vertices: Iterable[JobVertex],
    *,
    allow_non_restored_state: bool = False,
) -> dict[tuple[int, int], dict[str, Any]]:
    """Each subtask's state, by (vertex id, subtask), in the form the tasks restore from.

    Raises:
        CheckpointError: an operator's state cannot be redistributed, a checkpoint file is
            corrupt, or the checkpoint has state for an operator uid the job does not have.
    """
    old_operators, old_tasks = _decode(checkpoint)
    assigned: dict[tuple[int, int], dict[str, Any]] = {}
    used: set[str] = set()
    for vertex in vertices:
        per_subtask: list[dict[str, Any]] = [{"operators": {}} for _ in range(vertex.parallelism)]
        for node in vertex.nodes:
            uid = operator_uid(node)
            old = old_operators.get(uid)
            if old is None:
                continue
            used.add(uid)
            max_parallelism = node.max_parallelism or vertex.max_parallelism
            states = _redistribute(old, vertex.parallelism, max_parallelism, node.name, uid)
            for subtask, state in enumerate(states):
                if state:
                    per_subtask[subtask]["operators"][node.node_id] = state
        head = operator_uid(vertex.head)
        if head in old_tasks:
            task_states = _redistribute_task(old_tasks[head], vertex.parallelism, vertex.name)
            for subtask, state in enumerate(task_states):
                per_subtask[subtask].update(state)
        for subtask, state in enumerate(per_subtask):
            assigned[(vertex.vertex_id, subtask)] = state
    _check_all_restored(checkpoint, old_operators, used, allow_non_restored_state)
    return assigned


def _decode(
    checkpoint: CompletedCheckpoint,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Operator states by uid and task states by head uid, each a list over old subtasks."""
    operators: dict[str, list[dict[str, Any]]] = {}
    tasks: dict[str, list[dict[str, Any]]] = {}
    for task in checkpoint.tasks:
        snapshots: list[TaskSnapshot] = [checkpoint.task_snapshot(b) for b in task["blobs"]]
        for op in task["operators"]:
            operators[op["uid"]] = [s["operators"].get(op["uid"], {}) for s in snapshots]
        tasks[task["uid"]] = [{k: v for k, v in s.items() if k != "operators"} for s in snapshots]
    return operators, tasks


def _redistribute(
    old: list[dict[str, Any]], parallelism: int, max_parallelism: int, name: str, uid: str
) -> list[dict[str, Any]]:
    if len(old) == parallelism:
        return old
    for state in old:
        unsplittable = sorted(
            k
            for k, v in state.items()
            if k not in (*_KEYED_PARTS, *_REPLICATED_PARTS, _LIST_PART) and v
        )
        if unsplittable:
            msg = (
                f"operator {name!r} (uid {uid!r}) has operator state {unsplittable} that cannot "
                f"be redistributed from parallelism {len(old)} to {parallelism}; restore it at "
                f"parallelism {len(old)}"
            )
            raise CheckpointError(msg)
    assigner = KeyGroupAssigner(max_parallelism)

    def owner(key: Any) -> int:
        group = assigner.key_group(key)
        return operator_index_for_key_group(max_parallelism, parallelism, group)

    states: list[dict[str, Any]] = [{} for _ in range(parallelism)]
    for subtask, state in enumerate(states):
        for part in _REPLICATED_PARTS:
            if part in old[subtask % len(old)]:
                state[part] = old[subtask % len(old)][part]
    keyed = [s["keyed"] for s in old if s.get("keyed")]
    if keyed:
        for state in states:
            state["keyed"] = {"kinds": {}, "tables": {}}
        for part in keyed:
            for table, kind in part["kinds"].items():
                for state in states:
                    state["keyed"]["kinds"][table] = kind
                    state["keyed"]["tables"].setdefault(table, {})
            for table, entries in part["tables"].items():
                for key, value in entries.items():
                    states[owner(key)]["keyed"]["tables"][table][key] = value
    timers = [s["timers"] for s in old if s.get("timers")]
    if timers:
        for state in states:
            state["timers"] = {"event": [], "processing": []}
        for part in timers:
            for domain in ("event", "processing"):
                for entry in part[domain]:  # (timestamp, key) or (timestamp, key, namespace)
                    states[owner(entry[1])]["timers"][domain].append(tuple(entry))
    _split_lists(old, states)
    return states


def _split_lists(old: list[dict[str, Any]], states: list[dict[str, Any]]) -> None:
    """Concatenate each operator list over ``old`` (in subtask order) and deal even parts."""
    names = {name: None for state in old for name in state.get(_LIST_PART) or {}}
    parallelism = len(states)
    for name in names:
        items = [item for state in old for item in (state.get(_LIST_PART) or {}).get(name, ())]
        for index, state in enumerate(states):
            part = items[
                index * len(items) // parallelism : (index + 1) * len(items) // parallelism
            ]
            if part:
                state.setdefault(_LIST_PART, {})[name] = part


def _redistribute_task(
    old: list[dict[str, Any]], parallelism: int, name: str
) -> list[dict[str, Any]]:
    if len(old) == parallelism:
        return old
    positions: dict[Any, Any] = {}
    for state in old:
        positions.update(state.get("positions", {}))
        rest = sorted(
            k for k, v in state.items() if k not in ("positions", "reader", "external") and v
        )
        if rest or state.get("reader"):
            msg = (
                f"task {name!r} has reader state that cannot be redistributed from parallelism "
                f"{len(old)} to {parallelism}; restore it at parallelism {len(old)}"
            )
            raise CheckpointError(msg)
    # every reader is offered every split's position and takes those of the splits it owns
    # (its task records a split's position once the reader announces the split); where an
    # edge from another process was read is not restored (its group offsets are)
    return [{"offered_positions": dict(positions)} for _ in range(parallelism)]


def _check_all_restored(
    checkpoint: CompletedCheckpoint,
    operators: Mapping[str, list[dict[str, Any]]],
    used: set[str],
    allowed: bool,
) -> None:
    names = {op["uid"]: op["name"] for task in checkpoint.tasks for op in task["operators"]}
    dropped = sorted(uid for uid, states in operators.items() if uid not in used and any(states))
    if not dropped:
        return
    described = ", ".join(f"{uid!r} ({names.get(uid, '?')!r})" for uid in dropped)
    if allowed:
        logger.warning(
            "checkpoint %d: dropping the state of operators this job no longer has: %s",
            checkpoint.checkpoint_id,
            described,
        )
        return
    msg = (
        f"checkpoint {checkpoint.checkpoint_id} has state for operator uid(s) {described} that "
        "this job does not have; give the operator its uid() again, or restore with "
        "--allow-non-restored-state (allow_non_restored_state=True) to drop that state"
    )
    raise CheckpointError(msg)
