"""StreamrtCollector: a statistics snapshot becomes Prometheus samples with exact values."""

from __future__ import annotations

import logging
from typing import cast

import pytest
from prometheus_client import CollectorRegistry

from metrics.collector import StreamrtCollector
from streamrt import DataGeneratorSource, StreamExecutionEnvironment
from streamrt.runtime.elements import MIN_WATERMARK
from streamrt.runtime.job import Job, JobStatus
from streamrt.runtime.statistics import (
    CheckpointStatistics,
    ConnectorSample,
    JobStatistics,
    OperatorStatistics,
)
from streamrt.testing import CollectSink
from tests.conftest import bounded

MAX_WATERMARK = 2**63 - 1
SOURCE_TASK = "Source: Collection Source -> times ten -> big"
SINK_TASK = "after -> out"


@pytest.fixture
async def finished_job() -> Job:
    """A small bounded job, run to its end: every count in its statistics is final."""
    env = StreamExecutionEnvironment(parallelism=1)
    sink: CollectSink[int] = CollectSink()
    (
        env.from_collection([1, 2, 3, 4, 5])
        .map(lambda v: v * 10)
        .name("times ten")
        .filter(lambda v: v > 20)
        .name("big")
        .rebalance()
        .map(lambda v: v)
        .name("after")
        .sink_to(sink)
        .name("out")
    )
    job = env.create_job("small")
    await bounded(job.run())
    assert sink.values == [30, 40, 50]
    return job


def registry_for(*jobs: object) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StreamrtCollector(lambda: cast("list[Job]", list(jobs))))
    return registry


def operator_labels(task: str, operator: str, subtask: str = "0") -> dict[str, str]:
    return {"job_name": "small", "task": task, "operator": operator, "subtask": subtask}


def test_operator_records_in_and_out_of_a_finished_job(finished_job: Job) -> None:
    registry = registry_for(finished_job)
    expected = {
        (SOURCE_TASK, "Source: Collection Source"): (5, 5),
        (SOURCE_TASK, "times ten"): (5, 5),
        (SOURCE_TASK, "big"): (5, 3),
        (SINK_TASK, "after"): (3, 3),
        (SINK_TASK, "out"): (3, 3),
    }
    for (task, operator), (records_in, records_out) in expected.items():
        labels = operator_labels(task, operator)
        value = registry.get_sample_value
        assert value("streamrt_operator_records_in_total", labels) == records_in, operator
        assert value("streamrt_operator_records_out_total", labels) == records_out, operator
        assert value("streamrt_operator_errors_total", labels) == 0
        assert value("streamrt_operator_late_records_dropped_total", labels) == 0
        assert value("streamrt_operator_current_output_watermark_ms", labels) == MAX_WATERMARK


def test_an_input_watermark_is_absent_until_the_first_watermark(finished_job: Job) -> None:
    registry = registry_for(finished_job)
    source = operator_labels(SOURCE_TASK, "Source: Collection Source")
    mapped = operator_labels(SOURCE_TASK, "times ten")
    name = "streamrt_operator_current_input_watermark_ms"
    assert registry.get_sample_value(name, source) is None  # a source receives none
    assert registry.get_sample_value(name, mapped) == MAX_WATERMARK


def test_task_channel_checkpoint_and_job_samples_of_a_finished_job(finished_job: Job) -> None:
    registry = registry_for(finished_job)
    value = registry.get_sample_value
    source = {"job_name": "small", "task": SOURCE_TASK, "subtask": "0"}
    sink = {"job_name": "small", "task": SINK_TASK, "subtask": "0"}
    assert value("streamrt_task_records_in_total", source) == 5
    assert value("streamrt_task_records_out_total", source) == 3
    assert value("streamrt_task_records_in_total", sink) == 3
    assert value("streamrt_task_records_out_total", sink) == 0
    assert value("streamrt_task_running", source) == 0
    assert value("streamrt_task_running", sink) == 0
    stats = finished_job.statistics()
    busy = {t.task: t.busy_seconds for t in stats.tasks}
    assert value("streamrt_task_busy_seconds_total", source) == busy[SOURCE_TASK]
    assert value("streamrt_task_backpressured_seconds_total", sink) == 0.0
    channel = {
        "job_name": "small",
        "task": SINK_TASK,
        "subtask": "0",
        "producer_task": SOURCE_TASK,
        "producer_subtask": "0",
    }
    # one data buffer of three records, then the MAX watermark and the end of input
    assert value("streamrt_channel_buffers_sent_total", channel) == 3
    assert value("streamrt_channel_buffers_queued", channel) == 0
    assert value("streamrt_channel_capacity", channel) == 4
    job = {"job_name": "small"}
    assert value("streamrt_checkpoints_completed_total", job) == 0
    assert value("streamrt_checkpoints_failed_total", job) == 0
    assert value("streamrt_checkpoints_in_progress", job) == 0
    # the last checkpoint's figures are absent until one completed
    assert value("streamrt_checkpoint_last_completed_id", job) is None
    assert value("streamrt_checkpoint_last_size_bytes", job) is None
    assert value("streamrt_job_running", job) == 0
    assert value("streamrt_job_uptime_seconds", job) == finished_job.uptime_seconds


class FakeJob:
    """What the collector reads from a job: its statistics, status and uptime."""

    def __init__(self, stats: JobStatistics, status: JobStatus, uptime: float) -> None:
        self._stats = stats
        self.status = status
        self.uptime_seconds = uptime
        self.snapshots = 0

    def statistics(self) -> JobStatistics:
        self.snapshots += 1
        return self._stats


def operator(name: str, operator_id: int, subtask: int = 0) -> OperatorStatistics:
    return OperatorStatistics(
        "t", name, operator_id, subtask, 7, 6, 1, 2, MIN_WATERMARK, MIN_WATERMARK
    )


def test_checkpoints_connectors_and_repeated_operator_names() -> None:
    stats = JobStatistics(
        "j",
        "running",
        operators=(operator("map", 1), operator("map", 2), operator("sink", 3, subtask=1)),
        checkpoints=CheckpointStatistics(
            completed=4,
            failed=1,
            in_progress=1,
            last_completed_id=5,
            last_duration_seconds=0.25,
            last_size_bytes=1234,
        ),
        connectors=(
            ConnectorSample(
                "kafka_consumer_lag", "t", "src", 0, 42, (("topic", "orders"), ("partition", "3"))
            ),
            ConnectorSample("kafka_sink_records_sent_total", "t", "sink", 1, 9, (("topic", "o"),)),
        ),
    )
    job = FakeJob(stats, JobStatus.RUNNING, 12.5)
    registry = registry_for(job)
    value = registry.get_sample_value
    # two operators named "map": the label carries the id to keep them apart
    for label in ("map (#1)", "map (#2)"):
        labels = {"job_name": "j", "task": "t", "operator": label, "subtask": "0"}
        assert value("streamrt_operator_records_in_total", labels) == 7
        assert value("streamrt_operator_records_out_total", labels) == 6
        assert value("streamrt_operator_late_records_dropped_total", labels) == 1
        assert value("streamrt_operator_errors_total", labels) == 2
        assert value("streamrt_operator_current_output_watermark_ms", labels) is None
    sink = {"job_name": "j", "task": "t", "operator": "sink", "subtask": "1"}
    assert value("streamrt_operator_records_in_total", sink) == 7
    lag = {"job_name": "j", "task": "t", "operator": "src", "subtask": "0"}
    lag |= {"topic": "orders", "partition": "3"}
    assert value("streamrt_kafka_consumer_lag", lag) == 42
    sent = {"job_name": "j", "task": "t", "operator": "sink", "subtask": "1", "topic": "o"}
    assert value("streamrt_kafka_sink_records_sent_total", sent) == 9
    j = {"job_name": "j"}
    assert value("streamrt_checkpoints_completed_total", j) == 4
    assert value("streamrt_checkpoints_failed_total", j) == 1
    assert value("streamrt_checkpoints_in_progress", j) == 1
    assert value("streamrt_checkpoint_last_completed_id", j) == 5
    assert value("streamrt_checkpoint_last_duration_seconds", j) == 0.25
    assert value("streamrt_checkpoint_last_size_bytes", j) == 1234
    assert value("streamrt_job_running", j) == 1
    assert value("streamrt_job_uptime_seconds", j) == 12.5
    before = job.snapshots
    list(registry.collect())
    assert job.snapshots == before + 1  # one statistics() snapshot per scrape


def test_an_undeclared_connector_metric_is_not_exported_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = JobStatistics(
        "j", "running", connectors=(ConnectorSample("made_up_metric", "t", "o", 0, 1.0),)
    )
    registry = registry_for(FakeJob(stats, JobStatus.RUNNING, 1.0))
    with caplog.at_level(logging.WARNING, logger="metrics.collector"):
        labels = {"job_name": "j", "task": "t", "operator": "o", "subtask": "0"}
        assert registry.get_sample_value("streamrt_made_up_metric", labels) is None
        assert registry.get_sample_value("streamrt_made_up_metric", labels) is None
    assert [r.getMessage() for r in caplog.records] == [
        "connector metric 'made_up_metric' is not declared in metrics/names.py; not exported"
    ]


def test_no_jobs_exports_no_streamrt_families() -> None:
    registry = CollectorRegistry()
    registry.register(StreamrtCollector(list))
    assert [m.name for m in registry.collect()] == []


def test_checkpoint_durations_are_a_cumulative_histogram() -> None:
    buckets = ((0.1, 1), (1.0, 3), (float("inf"), 4))
    stats = JobStatistics(
        "j",
        "running",
        checkpoints=CheckpointStatistics(
            completed=4, duration_buckets=buckets, duration_sum_seconds=7.5
        ),
    )
    registry = registry_for(FakeJob(stats, JobStatus.RUNNING, 1.0))
    value = registry.get_sample_value
    name = "streamrt_checkpoint_duration_seconds"
    for le, count in (("0.1", 1), ("1.0", 3), ("+Inf", 4)):
        assert count == value(f"{name}_bucket", {"job_name": "j", "le": le}), le
    assert value(f"{name}_count", {"job_name": "j"}) == 4
    assert value(f"{name}_sum", {"job_name": "j"}) == 7.5


def test_no_checkpoint_duration_histogram_without_buckets(finished_job: Job) -> None:
    registry = registry_for(finished_job)
    labels = {"job_name": "small", "le": "+Inf"}
    assert registry.get_sample_value("streamrt_checkpoint_duration_seconds_bucket", labels) is None


def test_the_event_loop_lag_is_exported_per_job_only_when_measured() -> None:
    job = FakeJob(JobStatistics("j", "running"), JobStatus.RUNNING, 1.0)
    lag = [0.125]
    measured = CollectorRegistry()
    measured.register(StreamrtCollector(lambda: [cast("Job", job)], loop_lag=lambda: lag[0]))
    name = "streamrt_event_loop_lag_seconds"
    assert measured.get_sample_value(name, {"job_name": "j"}) == 0.125
    lag[0] = 2.0  # read at scrape time
    assert measured.get_sample_value(name, {"job_name": "j"}) == 2.0
    assert registry_for(job).get_sample_value(name, {"job_name": "j"}) is None


async def test_a_checkpointing_job_fills_the_duration_histogram() -> None:
    """The coordinator counts every completed checkpoint into the buckets."""
    env = StreamExecutionEnvironment(parallelism=1)
    env.enable_checkpointing(10)
    sink: CollectSink[int] = CollectSink()
    # 2 000 records at 20 000/s: about 100 ms, room for several 10 ms checkpoints
    generator = DataGeneratorSource(lambda i: i, 2_000, records_per_second=20_000, batch_size=50)
    env.from_source(generator, source_name="numbers").sink_to(sink)
    job = env.create_job("cp")
    await bounded(job.run())
    cp = job.statistics().checkpoints
    assert cp.completed >= 1, "the job took no checkpoint"
    assert cp.duration_buckets[-1] == (float("inf"), cp.completed)
    counts = [count for _, count in cp.duration_buckets]
    assert counts == sorted(counts)  # cumulative
    assert cp.duration_sum_seconds >= cp.last_duration_seconds
