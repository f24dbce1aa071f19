"""How a run of a job ends: its result, the root cause of a failure, the final commits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from streamrt.errors import ChannelClosedError, ConnectorError
from streamrt.runtime.completed_checkpoint import CompletedCheckpoint
from streamrt.runtime.statistics import JobStatistics
from streamrt.runtime.task import StreamTask

__all__ = ["JobExecutionResult", "finalize_readers", "root_cause"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobExecutionResult:
    """What a finished job reports (Flink's ``JobExecutionResult``)."""

    job_name: str
    net_runtime_seconds: float
    statistics: JobStatistics
    latest_checkpoint: CompletedCheckpoint | None


async def finalize_readers(tasks: Sequence[StreamTask], *, job_finished: bool) -> None:
    """Let readers commit their final positions (after a clean finish) and close them.

    Raises:
        Exception: the first commit or close failure, when the job had finished cleanly.
    """
    # sources commit their final offsets only now, when every sink has flushed
    # (at-least-once); all commit before any disconnects, because a reader leaving its
    # consumer group makes the group rebalance and refuse the others' commits meanwhile
    errors: list[Exception] = []

    async def each(some: list[StreamTask], call: Callable[[StreamTask], Awaitable[None]]) -> None:
        for task in some:  # every task gets its call; the first error is raised later
            try:
                await call(task)
            except Exception as exc:
                errors.append(exc)
            except asyncio.CancelledError as exc:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # this job's own task is being cancelled: let it end
                # a client library's internal task was cancelled under it (seen closing
                # aiokafka consumers of a cancelled job on a loaded machine): close the others
                # anyway, or their connections leak, and keep the job's own outcome
                logger.warning("closing a reader of %r was cancelled internally", task)
                errors.append(ConnectorError(f"closing a reader of {task!r} was cancelled"))
                errors[-1].__cause__ = exc

    if job_finished:
        entries = [t for t in tasks if t.checkpoint_entry]
        await each(entries, lambda t: t.commit_final_positions())
    await each(list(tasks), lambda t: t.close_reader())
    if errors and job_finished:
        raise errors[0]


def root_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that failed the job: the first that is not a consequence of another."""
    leaves: list[BaseException] = []

    def walk(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                walk(inner)
        elif not isinstance(error, asyncio.CancelledError):
            leaves.append(error)

    walk(group)
    for error in leaves:
        if not isinstance(error, ChannelClosedError):
            return error
    return leaves[0] if leaves else group
