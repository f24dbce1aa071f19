"""Assembles a ``JobStatistics`` snapshot from a job's tasks and channels.

The counters live where the work happens (operators' and tasks' metric groups, channels,
connectors' metric groups, the checkpoint coordinator); this reads them all at once, between
batches, so one snapshot is consistent. Called per scrape, never per record.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamrt.runtime.checkpoint_coordinator import CheckpointCoordinator
from streamrt.runtime.deployment import ChannelPlacement
from streamrt.runtime.statistics import (
    ChannelStatistics,
    CheckpointStatistics,
    ConnectorSample,
    JobStatistics,
    OperatorStatistics,
    TaskStatistics,
)
from streamrt.runtime.task import StreamTask

__all__ = ["job_statistics"]


def job_statistics(
    name: str,
    status: str,
    tasks: Sequence[StreamTask],
    channels: Sequence[ChannelPlacement],
    coordinator: CheckpointCoordinator | None,
    restarts: int = 0,
) -> JobStatistics:
    """A consistent snapshot of every counter of a job."""
    operators: list[OperatorStatistics] = []
    connectors: list[ConnectorSample] = []
    for task in tasks:
        for node in task.vertex.nodes:
            context = task.chain.contexts[node.node_id]
            m = context.metrics
            operators.append(
                OperatorStatistics(
                    task.name,
                    node.name,
                    node.node_id,
                    task.subtask_index,
                    m.records_in.count,
                    m.records_out.count,
                    m.late_records_dropped.count,
                    m.errors.count,
                    m.input_watermark.value,
                    m.output_watermark.value,
                )
            )
            connectors.extend(
                ConnectorSample(s.name, task.name, node.name, task.subtask_index, s.value, s.labels)
                for s in m.connector.samples()
            )
    return JobStatistics(
        name,
        status,
        tuple(operators),
        tuple(_task_statistics(task) for task in tasks),
        tuple(_channel_statistics(placement) for placement in channels),
        coordinator.statistics() if coordinator else CheckpointStatistics(),
        tuple(connectors),
        restarts,
    )


def _task_statistics(task: StreamTask) -> TaskStatistics:
    tm = task.metrics
    return TaskStatistics(
        task.name,
        task.subtask_index,
        task.status.value,
        tm.busy_ns() / 1e9,
        tm.idle_ns / 1e9,
        tm.backpressured_ns / 1e9,
        task.chain.head_context.metrics.records_in.count,
        task.records_out,
    )


def _channel_statistics(placement: ChannelPlacement) -> ChannelStatistics:
    edge, channel = placement.edge, placement.channel
    return ChannelStatistics(
        edge.source_vertex.name,
        placement.producer,
        edge.target_vertex.name,
        placement.consumer,
        edge.partitioner.describe(),
        len(channel),
        channel.capacity,
        channel.peak,
        channel.buffers_sent,
    )
