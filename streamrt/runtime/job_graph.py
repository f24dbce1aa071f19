"""Chains: the stream graph cut into tasks.

Port of Flink's ``StreamingJobGraphGenerator``. An edge is chained (a plain call inside one
task) when all of these hold (flink-reference.md §3.5): the downstream node has exactly one
input edge and is not a two-input operator (which always heads its chain, Flink's
``TwoInputStreamTask``); chaining is enabled; the edge is FORWARD and crosses no external
channel; the parallelism is equal; the upstream node is not NEVER; the downstream node is
ALWAYS (HEAD and NEVER start a chain). Every other edge becomes a ``JobEdge`` between two
``JobVertex``es, realized at runtime as channels.

Resolution happens here too: default parallelism, max parallelism (Flink's default derived
from parallelism), the default partitioner (forward at equal parallelism, else rebalance), and
the key-group count of hash partitioners (the consumer's max parallelism). Nodes that cannot
reach a sink are dropped, as Flink only translates what sinks depend on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamrt.errors import GraphError
from streamrt.runtime.config import check_parallelism
from streamrt.runtime.key_groups import compute_default_max_parallelism
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.partitioners import (
    ForwardPartitioner,
    KeyGroupStreamPartitioner,
    RebalancePartitioner,
    StreamPartitioner,
)
from streamrt.runtime.stream_graph import (
    ChainingStrategy,
    NodeKind,
    StreamEdge,
    StreamGraph,
    StreamNode,
)

__all__ = ["JobEdge", "JobGraph", "JobVertex", "create_job_graph"]


@dataclass(eq=False)
class JobEdge:
    """A stream edge between two chains, realized as channels.

    Attributes:
        stream_edge: the user-level edge (source/target nodes, tag, external channel spec).
        source_vertex / target_vertex: the chains it connects.
        partitioner: resolved (never ``None``).
    """

    stream_edge: StreamEdge
    source_vertex: JobVertex
    target_vertex: JobVertex
    partitioner: StreamPartitioner

    @property
    def edge_id(self) -> int:
        """The stream edge's id."""
        return self.stream_edge.edge_id

    @property
    def tag(self) -> OutputTag[Any] | None:
        """The side output carried, ``None`` for the main output."""
        return self.stream_edge.tag

    @property
    def channel(self) -> Any:
        """``None`` for local channels; otherwise the external channel's spec."""
        return self.stream_edge.channel

    @property
    def type_number(self) -> int:
        """The input of a two-input target the edge feeds (1 or 2); 0 for one-input targets."""
        return self.stream_edge.type_number

    @property
    def channel_kind(self) -> str:
        """``"local"`` or the external channel's description (``"kafka topic 'x'"``)."""
        return "local" if self.channel is None else str(getattr(self.channel, "kind", "external"))

    def connected_consumers(self, producer: int) -> range:
        """Which consumer subtasks producer subtask ``producer`` writes to.

        All of them for all-to-all partitioners; a contiguous share for pointwise ones
        (FORWARD: the one with the same index; RESCALE: Flink's pointwise distribution).
        """
        up, down = self.source_vertex.parallelism, self.target_vertex.parallelism
        if not self.partitioner.pointwise:
            return range(down)
        if up >= down:
            return range(producer * down // up, producer * down // up + 1)
        return range(producer * down // up, (producer + 1) * down // up)


@dataclass(eq=False)
class JobVertex:
    """One chain: the operators that run together in each of its parallel tasks.

    Attributes:
        vertex_id: the head node's id.
        nodes: head first, then the chained nodes in topological order.
        chained_edges: the edges inside the chain.
        in_edges / out_edges: job edges to and from other chains.
    """

    vertex_id: int
    nodes: list[StreamNode]
    parallelism: int
    max_parallelism: int
    chained_edges: list[StreamEdge] = field(default_factory=list)
    in_edges: list[JobEdge] = field(default_factory=list)
    out_edges: list[JobEdge] = field(default_factory=list)

    @property
    def head(self) -> StreamNode:
        """The first operator of the chain."""
        return self.nodes[0]

    @property
    def name(self) -> str:
        """Flink-style task name: the operator names joined by `` -> ``."""
        return " -> ".join(n.name for n in self.nodes)

    @property
    def is_source(self) -> bool:
        """Whether the chain starts with a source."""
        return self.head.kind is NodeKind.SOURCE

    def node_ids(self) -> set[int]:
        """Ids of the nodes in the chain."""
        return {n.node_id for n in self.nodes}


@dataclass(eq=False)
class JobGraph:
    """Chains and the edges between them, ready to run.

    Attributes:
        name: the job's name.
        vertices: in topological order (sources first).
        edges: every job edge.
        stream_graph: the graph it was made from (nodes carry resolved parallelism).
    """

    name: str
    vertices: list[JobVertex]
    edges: list[JobEdge]
    stream_graph: StreamGraph

    def task_numbers(self) -> dict[int, int]:
        """The number plans show for each vertex ("Task 1", ...), by vertex id."""
        return {v.vertex_id: i + 1 for i, v in enumerate(self.vertices)}

    def describe(self) -> dict[str, Any]:
        """The graph as plain data: tasks with their operators, and the edges between them."""
        index = self.task_numbers()
        return {
            "job": self.name,
            "tasks": [
                {
                    "task": index[v.vertex_id],
                    "name": v.name,
                    "parallelism": v.parallelism,
                    "max_parallelism": v.max_parallelism,
                    "operators": [
                        {"id": n.node_id, "name": n.name, "kind": n.kind.value} for n in v.nodes
                    ],
                }
                for v in self.vertices
            ],
            "edges": [
                {
                    "from_task": index[e.source_vertex.vertex_id],
                    "from_operator": e.stream_edge.source_id,
                    "to_task": index[e.target_vertex.vertex_id],
                    "to_operator": e.stream_edge.target_id,
                    "partitioner": e.partitioner.describe(),
                    "side_output": e.tag.tag_id if e.tag is not None else None,
                    "channel": e.channel_kind,
                    "input": e.type_number,
                }
                for e in self.edges
            ],
        }

    def segments(self) -> dict[int, int]:
        """Segment of every vertex (by vertex id): the parts connected by local edges.

        Only Kafka-topic edges cross segments, so each segment can run in its own process
        (``Job(graph, segment=n)``, ``streamrt run --segment n``). Segments are numbered from
        0 in the order of their first vertex (sources first).
        """
        parent = {v.vertex_id: v.vertex_id for v in self.vertices}

        def root(vertex_id: int) -> int:
            while parent[vertex_id] != vertex_id:
                parent[vertex_id] = parent[parent[vertex_id]]
                vertex_id = parent[vertex_id]
            return vertex_id

        for edge in self.edges:
            if edge.channel is None:
                a, b = root(edge.source_vertex.vertex_id), root(edge.target_vertex.vertex_id)
                parent[max(a, b)] = min(a, b)
        numbers: dict[int, int] = {}
        result = {}
        for vertex in self.vertices:
            result[vertex.vertex_id] = numbers.setdefault(root(vertex.vertex_id), len(numbers))
        return result

    def vertex_of(self, node_id: int) -> JobVertex:
        """The chain containing node ``node_id``."""
        for vertex in self.vertices:
            if any(n.node_id == node_id for n in vertex.nodes):
                return vertex
        msg = f"node {node_id} is not part of job {self.name!r}"
        raise KeyError(msg)


def create_job_graph(
    graph: StreamGraph,
    name: str,
    *,
    default_parallelism: int,
    default_max_parallelism: int | None = None,
    chaining_enabled: bool = True,
) -> JobGraph:
    """Resolve defaults, validate, and cut ``graph`` into chains.

    Raises:
        GraphError: the graph has no sink, a parallelism is out of range, or a FORWARD edge
            connects operators of different parallelism.
    """
    nodes = _nodes_reaching_a_sink(graph)
    if not nodes:
        msg = f"job {name!r} has no sink; add sink_to(), print() or use execute_and_collect()"
        raise GraphError(msg)
    for node in nodes:
        _resolve_parallelism(node, default_parallelism, default_max_parallelism)
    kept = {n.node_id for n in nodes}
    edges = [e for e in graph.edges if e.source_id in kept and e.target_id in kept]
    partitioners = {e.edge_id: _resolve_partitioner(e, graph) for e in edges}

    def chainable(edge: StreamEdge) -> bool:
        up, down = graph.nodes[edge.source_id], graph.nodes[edge.target_id]
        return (
            chaining_enabled
            and not down.two_inputs
            and len([e for e in down.in_edges if e.source_id in kept]) == 1
            and isinstance(partitioners[edge.edge_id], ForwardPartitioner)
            and edge.channel is None
            and up.chaining is not ChainingStrategy.NEVER
            and down.chaining is ChainingStrategy.ALWAYS
            and up.parallelism == down.parallelism
        )

    vertex_of: dict[int, JobVertex] = {}
    vertices: list[JobVertex] = []
    for node in nodes:  # node ids are creation order, which is topological
        chained_in = [e for e in node.in_edges if e.source_id in kept and chainable(e)]
        if chained_in:
            vertex = vertex_of[chained_in[0].source_id]
            vertex.nodes.append(node)
            vertex.chained_edges.append(chained_in[0])
        else:
            vertex = JobVertex(
                node.node_id,
                [node],
                node.parallelism_or_fail,
                node.max_parallelism or default_max_parallelism or 128,
            )
            vertices.append(vertex)
        vertex_of[node.node_id] = vertex

    job_edges: list[JobEdge] = []
    chained_ids = {e.edge_id for v in vertices for e in v.chained_edges}
    for edge in edges:
        if edge.edge_id in chained_ids:
            continue
        job_edge = JobEdge(
            edge, vertex_of[edge.source_id], vertex_of[edge.target_id], partitioners[edge.edge_id]
        )
        job_edge.source_vertex.out_edges.append(job_edge)
        job_edge.target_vertex.in_edges.append(job_edge)
        job_edges.append(job_edge)
    return JobGraph(name, vertices, job_edges, graph)


def _nodes_reaching_a_sink(graph: StreamGraph) -> list[StreamNode]:
    reach: set[int] = set()
    stack = [n.node_id for n in graph.nodes.values() if n.kind is NodeKind.SINK]
    while stack:
        node_id = stack.pop()
        if node_id not in reach:
            reach.add(node_id)
            stack.extend(e.source_id for e in graph.nodes[node_id].in_edges)
    return [graph.nodes[i] for i in sorted(reach)]


def _resolve_parallelism(
    node: StreamNode, default_parallelism: int, default_max_parallelism: int | None
) -> None:
    if node.parallelism is None:
        node.parallelism = default_parallelism
    check_parallelism(node.parallelism, node.name)
    if node.max_parallelism is None:
        node.max_parallelism = default_max_parallelism or compute_default_max_parallelism(
            node.parallelism
        )
    if node.max_parallelism < node.parallelism:
        msg = (
            f"max_parallelism ({node.max_parallelism}) must be >= parallelism "
            f"({node.parallelism}) for {node.name!r}"
        )
        raise GraphError(msg)


def _resolve_partitioner(edge: StreamEdge, graph: StreamGraph) -> StreamPartitioner:
    up, down = graph.nodes[edge.source_id], graph.nodes[edge.target_id]
    partitioner = edge.partitioner
    if partitioner is None:
        if up.parallelism == down.parallelism:
            return ForwardPartitioner()
        return RebalancePartitioner()
    if isinstance(partitioner, ForwardPartitioner) and up.parallelism != down.parallelism:
        msg = (
            f"forward partitioning needs equal parallelism; {up.name!r} has "
            f"{up.parallelism} and {down.name!r} has {down.parallelism}; use rebalance() or "
            "rescale() instead"
        )
        raise GraphError(msg)
    if isinstance(partitioner, KeyGroupStreamPartitioner):
        assert down.max_parallelism is not None
        return partitioner.with_max_parallelism(down.max_parallelism)
    return partitioner
