"""Every error streamrt raises, under one root.

::

    StreamrtError
    ├── GraphError(ValueError)        the job graph is invalid: bad parallelism, forward across
    │                                 unequal parallelism, an unknown stream, a misused API
    ├── ConfigError(ValueError)       a configuration value is out of range or of the wrong type
    ├── OperatorError                 user code or an operator failed; names operator and subtask
    ├── RecordError                   a record cannot be handled (e.g. a key without stable hash)
    ├── ConnectorError                a source or sink failed talking to the outside; ``retriable``
    ├── CheckpointError               a checkpoint failed, expired, or cannot be restored
    ├── ChannelClosedError            a send on a channel whose receiver has gone
    └── JobCancelledError             the job was cancelled before it finished

Each error carries its data in fields as well as in the message, so callers can branch on
them without parsing text. The original exception is always kept as ``__cause__``.

Subtasks are numbered as in Flink: the index is 0-based wherever it is data (``subtask``
fields, ``FailedRecord.subtask``, metric labels); messages and logs show the display form
``index+1/parallelism`` (``subtask 1/4`` is index 0), built by ``subtask_display``.
"""

from __future__ import annotations

__all__ = [
    "ChannelClosedError",
    "CheckpointError",
    "ConfigError",
    "ConnectorError",
    "GraphError",
    "JobCancelledError",
    "OperatorError",
    "RecordError",
    "StreamrtError",
]


class StreamrtError(Exception):
    """Root of every error streamrt raises."""


class GraphError(StreamrtError, ValueError):
    """The job graph is invalid (raised while building, before anything runs)."""


class ConfigError(StreamrtError, ValueError):
    """A configuration value is out of range or of the wrong type."""


class OperatorError(StreamrtError):
    """An operator (usually the user function inside it) raised while processing.

    Attributes:
        operator: the operator's ``name()``.
        subtask: the failing subtask's index.
        parallelism: the operator's parallelism.
    """

    def __init__(self, operator: str, subtask: int, parallelism: int, detail: str) -> None:
        self.operator = operator
        self.subtask = subtask
        self.parallelism = parallelism
        super().__init__(
            f"operator {operator!r} (subtask {subtask_display(subtask, parallelism)}) failed: "
            f"{detail}"
        )


class RecordError(StreamrtError, ValueError):
    """A record cannot be handled by the runtime itself (not by user code)."""


class ConnectorError(StreamrtError):
    """A source or sink failed while talking to an external system.

    Attributes:
        retriable: whether retrying the same call may succeed (copied from the client error).
    """

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        self.retriable = retriable
        super().__init__(message)


class CheckpointError(StreamrtError):
    """A checkpoint failed or expired, or a restore does not fit the job."""


class ChannelClosedError(StreamrtError):
    """A send on a channel whose receiving task has stopped."""


class JobCancelledError(StreamrtError):
    """The job was cancelled (``Job.cancel()``, Ctrl-C) before it finished."""


def subtask_display(index: int, parallelism: int) -> str:
    """How messages and logs show subtask ``index`` (0-based) of ``parallelism``: ``"1/4"``."""
    return f"{index + 1}/{parallelism}"
