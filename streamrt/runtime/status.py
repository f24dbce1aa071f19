"""The lifecycle states of a job and of each of its tasks.

One enum for both (Flink's ``JobStatus`` and ``ExecutionState``, abridged to the states a
single-process run passes through): a job and a task are each created, run, and end finished,
failed or canceled; a job may also be restarting between two runs of its tasks.
``streamrt.JobStatus`` is this enum.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["ExecutionStatus"]


class ExecutionStatus(Enum):
    """Where a job or a task is in its lifecycle."""

    CREATED = "created"
    RUNNING = "running"
    #: the job only: a task failed and the job waits to restart from its latest checkpoint
    RESTARTING = "restarting"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def ended(self) -> bool:
        """Whether this is a final state."""
        return self in (ExecutionStatus.FINISHED, ExecutionStatus.FAILED, ExecutionStatus.CANCELED)
