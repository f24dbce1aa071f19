"""Every metric streamrt exports: name, type, labels, meaning. The one source of truth.

``docs/metrics.md`` is generated from this table (``python -m metrics.names > docs/metrics.md``;
a test keeps them equal), the collector refuses to export a name that is not here, and the
Grafana dashboard's queries are tested against a real Prometheus scraping these names.

Names follow Prometheus conventions (``streamrt_<subsystem>_<what>_<unit>``, ``_total`` on
counters) with Flink's meanings. Labels are bounded: job_name, task, operator, subtask, and,
for Kafka, topic and partition. Never keys, offsets or record values.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["METRICS", "PREFIX", "MetricSpec", "by_name", "render_markdown"]

PREFIX: Final = "streamrt_"

# ``job_name`` (Flink's label) is the streamrt job; Prometheus keeps ``job`` for the scrape target,
# so ``up`` and ``process_*`` of the same process can be joined on (job, instance).
OPERATOR = ("job_name", "task", "operator", "subtask")
TASK = ("job_name", "task", "subtask")
CHANNEL = ("job_name", "task", "subtask", "producer_task", "producer_subtask")
PARTITION = (*OPERATOR, "topic", "partition")
TOPIC = (*OPERATOR, "topic")
JOB = ("job_name",)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric family.

    Attributes:
        name: without the ``streamrt_`` prefix (Prometheus adds ``_total`` to counters itself;
            names here already end in ``_total`` where they are counters).
        kind: counter, gauge or histogram (exported as ``_bucket``/``_sum``/``_count``).
        labels: in order.
        help: what it means (Flink's meaning, where Flink has the metric).
    """

    name: str
    kind: Literal["counter", "gauge", "histogram"]
    labels: tuple[str, ...]
    help: str

    @property
    def full_name(self) -> str:
        """The name as exported."""
        return PREFIX + self.name


METRICS: Final[tuple[MetricSpec, ...]] = (
    # -- operators (Flink's numRecordsIn/Out, currentInput/OutputWatermark, numLateRecordsDropped)
    MetricSpec("operator_records_in_total", "counter", OPERATOR, "Records handed to the operator."),
    MetricSpec(
        "operator_records_out_total",
        "counter",
        OPERATOR,
        "Records the operator emitted, main and side outputs, each emit counted once "
        "however many edges take it; for sinks, records written.",
    ),
    MetricSpec(
        "operator_current_input_watermark_ms",
        "gauge",
        OPERATOR,
        "Last watermark the operator received (epoch ms); absent before the first.",
    ),
    MetricSpec(
        "operator_current_output_watermark_ms",
        "gauge",
        OPERATOR,
        "Last watermark the operator emitted (epoch ms); absent before the first.",
    ),
    MetricSpec(
        "operator_late_records_dropped_total",
        "counter",
        OPERATOR,
        "Records dropped for arriving behind the watermark.",
    ),
    MetricSpec(
        "operator_errors_total",
        "counter",
        OPERATOR,
        "Records whose user function raised and that the operator's error policy "
        "skipped or sent to the failed-records side output.",
    ),
    # -- tasks (Flink's busy/idle/backPressuredTimeMsPerSecond, as counters: rate() them)
    MetricSpec(
        "task_busy_seconds_total",
        "counter",
        TASK,
        "Time the task spent working (wall time minus idle and back-pressured).",
    ),
    MetricSpec(
        "task_idle_seconds_total", "counter", TASK, "Time the task spent waiting for input."
    ),
    MetricSpec(
        "task_backpressured_seconds_total",
        "counter",
        TASK,
        "Time the task spent waiting for output space (full channels, sink buffers).",
    ),
    MetricSpec(
        "task_records_in_total",
        "counter",
        TASK,
        "Records into the task's first operator (read records, for sources).",
    ),
    MetricSpec(
        "task_records_out_total",
        "counter",
        TASK,
        "Records written to the task's out-edges (a record on two edges counts twice).",
    ),
    MetricSpec("task_running", "gauge", TASK, "1 while the task runs, else 0."),
    # -- channels (Flink's inPoolUsage/outPoolUsage, per channel)
    MetricSpec(
        "channel_buffers_queued",
        "gauge",
        CHANNEL,
        "Buffers waiting in the channel into this consumer subtask.",
    ),
    MetricSpec(
        "channel_capacity", "gauge", CHANNEL, "Buffers the channel holds before its producer waits."
    ),
    MetricSpec(
        "channel_buffers_sent_total",
        "counter",
        CHANNEL,
        "Buffers and control elements sent over the channel.",
    ),
    # -- Kafka source (Flink's KafkaSourceReader currentOffset/committedOffset, records-lag)
    MetricSpec(
        "kafka_source_current_offset",
        "gauge",
        PARTITION,
        "Next offset the source reads from the partition.",
    ),
    MetricSpec(
        "kafka_source_committed_offset",
        "gauge",
        PARTITION,
        "Last offset the source committed for the partition (on checkpoint "
        "completion or clean finish).",
    ),
    MetricSpec(
        "kafka_consumer_lag",
        "gauge",
        PARTITION,
        "Records in the partition not yet read (end offset minus position).",
    ),
    MetricSpec(
        "kafka_source_assigned_partitions",
        "gauge",
        OPERATOR,
        "Partitions the source subtask owns now.",
    ),
    MetricSpec(
        "kafka_source_records_skipped_total",
        "counter",
        OPERATOR,
        "Records that failed to deserialize and were skipped (on_error='skip').",
    ),
    MetricSpec(
        "kafka_source_dead_letter_records_total",
        "counter",
        OPERATOR,
        "Records that failed to deserialize and went to the dead-letter topic.",
    ),
    MetricSpec(
        "kafka_source_commits_succeeded_total",
        "counter",
        OPERATOR,
        "Offset commits that succeeded.",
    ),
    MetricSpec(
        "kafka_source_commits_failed_total",
        "counter",
        OPERATOR,
        "Offset commits that failed (logged; reading goes on).",
    ),
    # -- Kafka sink
    MetricSpec(
        "kafka_sink_records_sent_total",
        "counter",
        TOPIC,
        "Records the sink sent and Kafka acknowledged.",
    ),
    MetricSpec(
        "kafka_sink_send_errors_total",
        "counter",
        TOPIC,
        "Records whose send failed (the job fails on the first).",
    ),
    # -- checkpoints (Flink's CheckpointStatsTracker)
    MetricSpec("checkpoints_completed_total", "counter", JOB, "Checkpoints completed."),
    MetricSpec("checkpoints_failed_total", "counter", JOB, "Checkpoints that failed or expired."),
    MetricSpec("checkpoints_in_progress", "gauge", JOB, "Checkpoints triggered, not yet complete."),
    MetricSpec(
        "checkpoint_last_duration_seconds",
        "gauge",
        JOB,
        "Trigger-to-completion time of the last completed checkpoint.",
    ),
    MetricSpec(
        "checkpoint_duration_seconds",
        "histogram",
        JOB,
        "Trigger-to-completion time of every completed checkpoint (Flink's checkpoint "
        "duration histogram); buckets from 10 ms to 5 min.",
    ),
    MetricSpec(
        "checkpoint_last_size_bytes",
        "gauge",
        JOB,
        "Size of the last completed checkpoint's state (its encoded task snapshots).",
    ),
    MetricSpec(
        "checkpoint_last_completed_id", "gauge", JOB, "Id of the last completed checkpoint."
    ),
    MetricSpec(
        "checkpoint_last_completed_timestamp_seconds",
        "gauge",
        JOB,
        "When the last checkpoint completed (durable), in epoch seconds: its age is "
        "time() minus this.",
    ),
    # -- the job
    MetricSpec("job_running", "gauge", JOB, "1 while the job runs, else 0."),
    MetricSpec("job_uptime_seconds", "gauge", JOB, "Seconds since the job started."),
    MetricSpec(
        "job_restarts_total",
        "counter",
        JOB,
        "Times the job restarted from its latest checkpoint after a failure (restart strategy).",
    ),
    MetricSpec(
        "event_loop_lag_seconds",
        "gauge",
        JOB,
        "How late the process's event loop, which runs the job, last woke a timer: a blocked "
        "loop delays every record and timer. Exported when the metrics server measures it.",
    ),
)

_BY_NAME: Final = {m.name: m for m in METRICS}


def by_name(name: str) -> MetricSpec | None:
    """The spec of ``name`` (without prefix), or ``None`` if streamrt does not export it."""
    return _BY_NAME.get(name)


def render_markdown() -> str:
    """``docs/metrics.md``."""
    lines = [
        "# Metrics",
        "",
        "Generated from `metrics/names.py` (`python -m metrics.names > docs/metrics.md`); a test",
        "keeps this file equal to it. Served at `/metrics` (default port 9249) by",
        "`streamrt run` / `metrics.MetricsServer`, next to the standard `process_*` and",
        "`python_*` metrics of `prometheus_client`. Counters are read from the runtime's",
        "plain-int counters at scrape time: nothing is done per record for Prometheus.",
        "",
        "| name | type | labels | meaning |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{m.full_name}` | {m.kind} | {', '.join(m.labels)} | {m.help} |" for m in METRICS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
