"""A completed checkpoint: plain metadata plus one encoded state blob per task subtask.

Port of the role of Flink's ``CompletedCheckpoint`` and its metadata (``MetadataV*``): the
metadata names every task by its head operator's uid, lists its operators' uids, its
parallelism and max parallelism, and the blob of each subtask; a blob is one task's snapshot
(``{"operators": {uid: state_dict}, "positions": ..., ...}``) in the versioned encoding of
``checkpoint_encoding``. Operators are found by uid, never by position, so a checkpoint
restores into a changed pipeline as long as the stateful operators keep their uids, and at
another parallelism (``state_assignment``). The same object lives in memory
(``env.create_job(restore_from=...)``) and in checkpoint storage (``location``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streamrt.runtime.checkpoint_encoding import decode
from streamrt.runtime.checkpoint_storage import StoredCheckpoint, read_savepoint
from streamrt.runtime.stream_graph import StreamNode

if TYPE_CHECKING:
    from streamrt.runtime.job_graph import JobGraph, JobVertex

__all__ = [
    "CompletedCheckpoint",
    "TaskSnapshot",
    "blob_name",
    "operator_uid",
    "vertex_metadata",
    "warn_about_derived_uids",
]

logger = logging.getLogger(__name__)

#: what a task's blob decodes to
TaskSnapshot = dict[str, Any]


def operator_uid(node: StreamNode) -> str:
    """The id an operator's state is stored under.

    Its ``uid()``, else one derived from its position in the pipeline and its name: stable
    while the pipeline code does not change.
    """
    if node.uid is not None:
        return node.uid
    slug = re.sub(r"[^0-9A-Za-z]+", "-", node.name).strip("-").lower()
    return f"{node.node_id}-{slug}"


def blob_name(task_index: int, subtask: int) -> str:
    """The blob (file) name of a task subtask's state: safe in any storage."""
    return f"task-{task_index}-{subtask}"


def vertex_metadata(index: int, vertex: JobVertex) -> dict[str, Any]:
    """The metadata entry of one task (chain) of a job."""
    return {
        "uid": operator_uid(vertex.head),
        "name": vertex.name,
        "parallelism": vertex.parallelism,
        "operators": [
            {
                "uid": operator_uid(node),
                "name": node.name,
                "max_parallelism": node.max_parallelism or vertex.max_parallelism,
                "keyed": node.key_selector is not None,
            }
            for node in vertex.nodes
        ],
        "blobs": [blob_name(index, i) for i in range(vertex.parallelism)],
    }


@dataclass(frozen=True)
class CompletedCheckpoint:
    """A checkpoint every task acknowledged (and, with storage, that is durable).

    Attributes:
        checkpoint_id: increasing within a job, continued after a restore.
        timestamp_ms: when it was triggered (epoch ms).
        metadata: plain data: ``job``, ``tasks`` (see ``vertex_metadata``), ``savepoint``.
        blobs: each task subtask's encoded snapshot, by blob name.
        location: where storage keeps it (a ``chk-<n>`` directory), ``None`` in memory only.
    """

    checkpoint_id: int
    timestamp_ms: int
    metadata: Mapping[str, Any]
    blobs: Mapping[str, bytes] = field(repr=False)
    location: str | None = None

    @classmethod
    def from_stored(cls, stored: StoredCheckpoint) -> CompletedCheckpoint:
        """The checkpoint storage read back."""
        return cls(
            stored.checkpoint_id,
            stored.timestamp_ms,
            stored.metadata,
            stored.blobs,
            stored.location,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CompletedCheckpoint:
        """Read the savepoint or retained checkpoint at ``path`` (its directory or ``_metadata``).

        Raises:
            CheckpointError: it is missing, truncated or corrupt (the message names the file).
        """
        return cls.from_stored(read_savepoint(path))

    @property
    def size_bytes(self) -> int:
        """The encoded size of every task's state."""
        return sum(len(b) for b in self.blobs.values())

    @property
    def tasks(self) -> Sequence[Mapping[str, Any]]:
        """The metadata entry of every task."""
        tasks: Sequence[Mapping[str, Any]] = self.metadata["tasks"]
        return tasks

    def task_snapshot(self, blob: str) -> TaskSnapshot:
        """Decode one task subtask's snapshot (``CheckpointError`` if it is corrupt)."""
        where = f"{self.location}/{blob}" if self.location else f"checkpoint {self.checkpoint_id}"
        snapshot: TaskSnapshot = decode(self.blobs[blob], where)
        return snapshot

    def task_snapshots(self) -> list[TaskSnapshot]:
        """Every task subtask's decoded snapshot, in metadata order."""
        return [self.task_snapshot(blob) for task in self.tasks for blob in task["blobs"]]

    def operator_states(self, uid: str) -> list[dict[str, Any]]:
        """The state of operator ``uid`` in each subtask (empty dicts where it had none)."""
        for task in self.tasks:
            if any(op["uid"] == uid for op in task["operators"]):
                return [
                    self.task_snapshot(blob)["operators"].get(uid, {}) for blob in task["blobs"]
                ]
        msg = f"checkpoint {self.checkpoint_id} has no operator with uid {uid!r}"
        raise KeyError(msg)


def warn_about_derived_uids(graph: JobGraph) -> None:
    """Stateful operators without ``uid()`` keep their state under a derived id: say so."""
    derived = [
        f"{node.name!r} (stored as {operator_uid(node)!r})"
        for vertex in graph.vertices
        for node in vertex.nodes
        if node.uid is None
        and (node.key_selector is not None or (vertex.head is node and vertex.is_source))
    ]
    if derived:
        logger.warning(
            "job %r: stateful operators without uid(): %s; their state is found by an id derived "
            "from their position and name, which changes when the pipeline changes: give each a "
            "stable .uid('...')",
            graph.name,
            ", ".join(derived),
        )
