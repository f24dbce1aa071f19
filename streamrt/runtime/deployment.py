"""Deploys a job graph for one run: channels, record writers, external edges, tasks.

Port of the role of Flink's ``ExecutionGraph`` construction and scheduler deployment: from the
chained ``JobGraph`` it makes one task per parallel subtask of each chain and connects
neighbouring chains with channels: all-to-all for most partitioners, pointwise for FORWARD and
RESCALE. An edge that crosses an external system (a Kafka topic) gets writers on its producers
and, per consumer subtask, a pump feeding one local channel per producer, so the consumer's
gate sees it exactly like a local edge. When the job runs as one *segment* of a larger job,
only the vertices of that segment are deployed; edges to other segments are external.
``Job`` runs what this builds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamrt.errors import ConfigError
from streamrt.runtime.channel import LocalChannel
from streamrt.runtime.completed_checkpoint import CompletedCheckpoint
from streamrt.runtime.config import JobConfig
from streamrt.runtime.external_channel import (
    ExternalChannelContext,
    ExternalChannelPump,
    ExternalChannelSpec,
)
from streamrt.runtime.input_task import InputTask
from streamrt.runtime.job_graph import JobEdge, JobGraph, JobVertex
from streamrt.runtime.record_writer import RecordWriter, create_record_writer
from streamrt.runtime.source_task import SourceTask
from streamrt.runtime.state_assignment import assign_states
from streamrt.runtime.task import StreamTask, TaskDeployment, TaskListener
from streamrt.runtime.two_input_task import TwoInputTask

__all__ = ["ChannelPlacement", "Deployment", "deploy"]

#: (task vertex id, subtask index)
_Subtask = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ChannelPlacement:
    """A channel and where it runs: which edge, from which producer to which consumer."""

    edge: JobEdge
    producer: int
    consumer: int
    channel: LocalChannel


@dataclass
class Deployment:
    """What one run of a job consists of.

    Attributes:
        vertices: the chains deployed (all of the graph's, or those of one segment).
        tasks: every task, sources first in graph order.
        channels: every local channel (external edges included: their consumer side).
        external: each external edge's spec and a context to prepare it with.
    """

    vertices: list[JobVertex] = field(default_factory=list)
    tasks: list[StreamTask] = field(default_factory=list)
    channels: list[ChannelPlacement] = field(default_factory=list)
    external: list[tuple[ExternalChannelSpec, ExternalChannelContext]] = field(default_factory=list)


def deploy(
    graph: JobGraph,
    config: JobConfig,
    listener: TaskListener,
    restored: CompletedCheckpoint | None = None,
    segment: int | None = None,
    *,
    allow_non_restored_state: bool = False,
) -> Deployment:
    """Build the tasks and channels of ``graph`` (or of one of its segments).

    Raises:
        ConfigError: ``segment`` does not exist.
        CheckpointError: ``restored`` cannot be assigned to this job (``state_assignment``).
    """
    deployer = _Deployer(graph, config, listener, segment)
    return deployer.deploy(restored, allow_non_restored_state)


class _Deployer:
    def __init__(
        self, graph: JobGraph, config: JobConfig, listener: TaskListener, segment: int | None
    ) -> None:
        self.graph = graph
        self.config = config
        self.listener = listener
        self.segment = segment
        self.segments = graph.segments()
        if segment is not None and segment not in self.segments.values():
            msg = (
                f"job {graph.name!r} has segments 0..{max(self.segments.values())} (split at "
                f"its Kafka-topic edges); there is no segment {segment}"
            )
            raise ConfigError(msg)
        self.result = Deployment()
        self.inputs: dict[_Subtask, list[LocalChannel]] = {}
        #: per consumer subtask, the input (1 or 2) each of its channels feeds (two-input heads)
        self.input_numbers: dict[_Subtask, list[int]] = {}
        self.pumps: dict[_Subtask, list[ExternalChannelPump]] = {}
        self.writers: dict[_Subtask, dict[int, RecordWriter]] = {}

    def mine(self, vertex: JobVertex) -> bool:
        return self.segment is None or self.segments[vertex.vertex_id] == self.segment

    def deploy(self, restored: CompletedCheckpoint | None, allow_non_restored: bool) -> Deployment:
        for edge in self.graph.edges:
            up, down = edge.source_vertex, edge.target_vertex
            if edge.channel is not None:
                if self.mine(up) or self.mine(down):
                    self.external_edge(edge, produce=self.mine(up), consume=self.mine(down))
            elif self.mine(up):
                self.local_edge(edge)
        self.result.vertices = [v for v in self.graph.vertices if self.mine(v)]
        states = (
            {}
            if restored is None
            else assign_states(
                restored, self.result.vertices, allow_non_restored_state=allow_non_restored
            )
        )
        for vertex in self.result.vertices:
            for subtask in range(vertex.parallelism):
                state = states.get((vertex.vertex_id, subtask))
                self.result.tasks.append(self.task(vertex, subtask, state))
        return self.result

    def channel(self, edge: JobEdge, producer: int, consumer: int, label: str) -> LocalChannel:
        channel = LocalChannel(self.config.channel_capacity, label)
        key = (edge.target_vertex.vertex_id, consumer)
        self.inputs.setdefault(key, []).append(channel)
        self.input_numbers.setdefault(key, []).append(edge.type_number)
        self.result.channels.append(ChannelPlacement(edge, producer, consumer, channel))
        return channel

    def local_edge(self, edge: JobEdge) -> None:
        up, down = edge.source_vertex, edge.target_vertex
        for producer in range(up.parallelism):
            channels = [
                self.channel(
                    edge, producer, consumer, f"{up.name}[{producer}] -> {down.name}[{consumer}]"
                )
                for consumer in edge.connected_consumers(producer)
            ]
            self.writers.setdefault((up.vertex_id, producer), {})[edge.edge_id] = (
                create_record_writer(
                    channels,
                    edge.partitioner,
                    buffer_size=self.config.channel_buffer_size,
                    copy_values=not self.config.object_reuse,
                    description=f"{up.name} -> {down.name}",
                )
            )

    def external_edge(self, edge: JobEdge, *, produce: bool, consume: bool) -> None:
        # when only one end runs here (a job split into segments), the other end is remote
        spec: ExternalChannelSpec = edge.channel
        up, down = edge.source_vertex, edge.target_vertex

        def context(subtask: int) -> ExternalChannelContext:
            return ExternalChannelContext(
                self.graph.name,
                edge.edge_id,
                f"{up.name} -> {down.name}",
                up.parallelism,
                down.parallelism,
                subtask,
                edge.partitioner,
                self.config.channel_buffer_size,
                remote=not (produce and consume),
            )

        self.result.external.append((spec, context(0)))
        for producer in range(up.parallelism if produce else 0):
            self.writers.setdefault((up.vertex_id, producer), {})[edge.edge_id] = (
                spec.create_writer(context(producer))
            )
        for consumer in range(down.parallelism if consume else 0):
            channels = [
                self.channel(
                    edge,
                    producer,
                    consumer,
                    f"{up.name}[{producer}] -> {spec.kind} -> {down.name}[{consumer}]",
                )
                for producer in range(up.parallelism)
            ]
            self.pumps.setdefault((down.vertex_id, consumer), []).append(
                spec.create_pump(context(consumer), channels)
            )

    def task(self, vertex: JobVertex, subtask: int, state: dict[str, Any] | None) -> StreamTask:
        key = (vertex.vertex_id, subtask)
        deployment = TaskDeployment(
            vertex,
            subtask,
            self.writers.get(key, {}),
            self.config,
            self.graph.name,
            self.listener,
            state,
        )
        if vertex.is_source:
            return SourceTask(deployment)
        if vertex.head.two_inputs:
            return TwoInputTask(
                deployment,
                self.inputs[key],
                self.input_numbers[key],
                pumps=self.pumps.get(key, ()),
            )
        return InputTask(deployment, self.inputs[key], pumps=self.pumps.get(key, ()))
