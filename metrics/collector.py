"""A ``prometheus_client`` Collector that reads a job's statistics at scrape time.

House style C11: the runtime counts with plain ints and never calls Prometheus per record;
``collect()`` takes one ``job.statistics()`` snapshot per scrape and turns it into metric
families. Every family is declared in ``metrics.names``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from metrics.names import METRICS, MetricSpec, by_name
from streamrt.runtime.elements import MIN_WATERMARK
from streamrt.runtime.job import Job, JobStatus
from streamrt.runtime.statistics import JobStatistics

__all__ = ["StreamrtCollector"]

logger = logging.getLogger(__name__)

_Family = CounterMetricFamily | GaugeMetricFamily


class StreamrtCollector(Collector):
    """Exports the job ``jobs()`` returns (none, one, or several) on every scrape.

    Args:
        jobs: returns the jobs to export now (e.g. the job the service is running).
        loop_lag: returns the event loop's last measured lag in seconds (``MetricsServer``
            passes ``lambda: self.loop_lag_seconds``); exported per job as
            ``streamrt_event_loop_lag_seconds``. ``None``: the gauge is not exported.
    """

    def __init__(
        self,
        jobs: Callable[[], Iterable[Job]],
        *,
        loop_lag: Callable[[], float] | None = None,
    ) -> None:
        self._jobs = jobs
        self._loop_lag = loop_lag
        self._unknown_reported: set[str] = set()

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: families depend on the job (keeps registration free of scrapes)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One snapshot per job, converted."""
        families = {spec.name: _family(spec) for spec in METRICS if spec.kind != "histogram"}
        histograms = {
            spec.name: HistogramMetricFamily(spec.full_name, spec.help, labels=list(spec.labels))
            for spec in METRICS
            if spec.kind == "histogram"
        }
        loop_lag = self._loop_lag() if self._loop_lag is not None else None
        for job in self._jobs():
            stats = job.statistics()
            self._add_job(families, job, stats, loop_lag)
            cp = stats.checkpoints
            if cp.duration_buckets:
                histograms["checkpoint_duration_seconds"].add_metric(
                    [stats.job],
                    [(_bucket_bound(bound), count) for bound, count in cp.duration_buckets],
                    cp.duration_sum_seconds,
                )
        for family in [*families.values(), *histograms.values()]:
            if family.samples:
                yield family

    def _add_job(
        self,
        families: dict[str, _Family],
        job: Job,
        stats: JobStatistics,
        loop_lag: float | None,
    ) -> None:
        name = stats.job
        operator_label = _operator_labels(stats)
        for o in stats.operators:
            labels = [name, o.task, operator_label[o.operator_id], str(o.subtask)]
            families["operator_records_in_total"].add_metric(labels, o.records_in)
            families["operator_records_out_total"].add_metric(labels, o.records_out)
            families["operator_late_records_dropped_total"].add_metric(
                labels, o.late_records_dropped
            )
            families["operator_errors_total"].add_metric(labels, o.errors)
            if o.current_input_watermark != MIN_WATERMARK:  # absent until the first watermark
                families["operator_current_input_watermark_ms"].add_metric(
                    labels, o.current_input_watermark
                )
            if o.current_output_watermark != MIN_WATERMARK:
                families["operator_current_output_watermark_ms"].add_metric(
                    labels, o.current_output_watermark
                )
        for t in stats.tasks:
            labels = [name, t.task, str(t.subtask)]
            families["task_busy_seconds_total"].add_metric(labels, t.busy_seconds)
            families["task_idle_seconds_total"].add_metric(labels, t.idle_seconds)
            families["task_backpressured_seconds_total"].add_metric(labels, t.backpressured_seconds)
            families["task_records_in_total"].add_metric(labels, t.records_in)
            families["task_records_out_total"].add_metric(labels, t.records_out)
            families["task_running"].add_metric(labels, 1 if t.status == "running" else 0)
        for c in stats.channels:
            labels = [
                name,
                c.consumer_task,
                str(c.consumer_subtask),
                c.producer_task,
                str(c.producer_subtask),
            ]
            families["channel_buffers_queued"].add_metric(labels, c.buffers_queued)
            families["channel_capacity"].add_metric(labels, c.capacity)
            families["channel_buffers_sent_total"].add_metric(labels, c.buffers_sent)
        for sample in stats.connectors:
            spec = by_name(sample.name)
            if spec is None:
                if sample.name not in self._unknown_reported:
                    self._unknown_reported.add(sample.name)
                    logger.warning(
                        "connector metric %r is not declared in metrics/names.py; not exported",
                        sample.name,
                    )
                continue
            extra = dict(sample.labels)
            labels = [name, sample.task, sample.operator, str(sample.subtask)]
            labels += [extra.get(label, "") for label in spec.labels[4:]]
            families[spec.name].add_metric(labels, sample.value)
        cp = stats.checkpoints
        job_labels = [name]
        families["checkpoints_completed_total"].add_metric(job_labels, cp.completed)
        families["checkpoints_failed_total"].add_metric(job_labels, cp.failed)
        families["checkpoints_in_progress"].add_metric(job_labels, cp.in_progress)
        if cp.completed:
            families["checkpoint_last_duration_seconds"].add_metric(
                job_labels, cp.last_duration_seconds
            )
            families["checkpoint_last_size_bytes"].add_metric(job_labels, cp.last_size_bytes)
            families["checkpoint_last_completed_id"].add_metric(job_labels, cp.last_completed_id)
            families["checkpoint_last_completed_timestamp_seconds"].add_metric(
                job_labels, cp.last_completed_timestamp_seconds
            )
        families["job_running"].add_metric(job_labels, 1 if job.status is JobStatus.RUNNING else 0)
        families["job_uptime_seconds"].add_metric(job_labels, job.uptime_seconds)
        families["job_restarts_total"].add_metric(job_labels, stats.restarts)
        if loop_lag is not None:  # one loop runs every job of the process: the same value
            families["event_loop_lag_seconds"].add_metric(job_labels, loop_lag)


def _family(spec: MetricSpec) -> _Family:
    if spec.kind == "counter":
        # prometheus_client appends _total itself; declare the family without it
        return CounterMetricFamily(
            spec.full_name.removesuffix("_total"), spec.help, labels=list(spec.labels)
        )
    return GaugeMetricFamily(spec.full_name, spec.help, labels=list(spec.labels))


def _bucket_bound(bound: float) -> str:
    """A bucket's ``le`` as Prometheus writes it: ``+Inf``, else the float's shortest repr."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _operator_labels(stats: JobStatistics) -> dict[int, str]:
    """Operator label per operator id: its name, made unique with the id where names repeat."""
    names = {o.operator_id: o.operator for o in stats.operators}
    repeated = {n for n, count in Tally(names.values()).items() if count > 1}
    return {i: (f"{n} (#{i})" if n in repeated else n) for i, n in names.items()}
