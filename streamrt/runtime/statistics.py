"""Snapshots of a running job's counters: frozen, plain data, cheap to take.

Taken between batches (the event loop runs one thing at a time), so one snapshot is consistent.
``metrics/`` turns these into Prometheus samples at scrape time; tests assert on them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ChannelStatistics",
    "CheckpointStatistics",
    "ConnectorMetric",
    "ConnectorSample",
    "JobStatistics",
    "OperatorStatistics",
    "TaskStatistics",
]


@dataclass(frozen=True, slots=True)
class OperatorStatistics:
    """One operator subtask (Flink's operator I/O metrics)."""

    task: str
    operator: str
    operator_id: int
    subtask: int
    records_in: int
    records_out: int
    late_records_dropped: int
    errors: int
    current_input_watermark: int
    current_output_watermark: int


@dataclass(frozen=True, slots=True)
class TaskStatistics:
    """One task (Flink's task I/O metrics); times in seconds."""

    task: str
    subtask: int
    status: str
    busy_seconds: float
    idle_seconds: float
    backpressured_seconds: float
    records_in: int
    records_out: int


@dataclass(frozen=True, slots=True)
class ChannelStatistics:
    """One local channel (Flink's in/out pool usage, per channel)."""

    producer_task: str
    producer_subtask: int
    consumer_task: str
    consumer_subtask: int
    partitioner: str
    buffers_queued: int
    capacity: int
    peak_buffers_queued: int
    buffers_sent: int


@dataclass(frozen=True, slots=True)
class CheckpointStatistics:
    """Checkpoints of the job (Flink's checkpoint stats); durations in seconds."""

    completed: int = 0
    failed: int = 0
    in_progress: int = 0
    last_completed_id: int = 0
    last_duration_seconds: float = 0.0
    last_size_bytes: int = 0
    #: epoch seconds when the last checkpoint completed (0 before the first)
    last_completed_timestamp_seconds: float = 0.0
    #: trigger-to-completion times of every completed checkpoint as a histogram: (upper bound
    #: in seconds, checkpoints that took at most that long), cumulative, ending at +inf
    duration_buckets: tuple[tuple[float, int], ...] = ()
    #: the sum of those durations, seconds
    duration_sum_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ConnectorMetric:
    """A value a source reader or sink writer reports through its ``ConnectorMetricGroup``.

    ``name`` is the metric name without the ``streamrt_`` prefix; its type, help text and
    labels are declared once, in ``metrics/names.py``. The job adds the task, operator and
    subtask it belongs to (``ConnectorSample``).
    """

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectorSample:
    """One value a connector reports (Kafka offsets and lag, records sent, DLQ records).

    Attributes:
        name: metric name without the ``streamrt_`` prefix, e.g. ``kafka_consumer_lag``.
        labels: extra labels beside job/task/operator/subtask (topic, partition).
    """

    name: str
    task: str
    operator: str
    subtask: int
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class JobStatistics:
    """Everything at one instant."""

    job: str
    status: str
    operators: tuple[OperatorStatistics, ...] = ()
    tasks: tuple[TaskStatistics, ...] = ()
    channels: tuple[ChannelStatistics, ...] = ()
    checkpoints: CheckpointStatistics = field(default_factory=CheckpointStatistics)
    connectors: tuple[ConnectorSample, ...] = ()
    #: times the job restarted after a failure (restart strategy)
    restarts: int = 0

    def operator(self, name: str, subtask: int | None = None) -> OperatorStatistics:
        """The statistics of operator ``name`` (summed over subtasks unless one is given)."""
        found = [o for o in self.operators if o.operator == name]
        if not found:
            names = sorted({o.operator for o in self.operators})
            msg = f"no operator named {name!r}; the job has {names}"
            raise KeyError(msg)
        if subtask is not None:
            return next(o for o in found if o.subtask == subtask)
        first = found[0]
        return OperatorStatistics(
            first.task,
            name,
            first.operator_id,
            -1,
            sum(o.records_in for o in found),
            sum(o.records_out for o in found),
            sum(o.late_records_dropped for o in found),
            sum(o.errors for o in found),
            min(o.current_input_watermark for o in found),
            min(o.current_output_watermark for o in found),
        )
