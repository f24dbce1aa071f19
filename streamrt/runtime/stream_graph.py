"""The job as the user wrote it: one node per operator, one edge per connection.

Port of Flink's ``StreamGraph``/``StreamNode``/``StreamEdge``. Built by the DataStream API;
``job_graph.create_job_graph`` turns it into chains. Nodes hold a factory, not an operator:
every parallel subtask gets its own operator instance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from streamrt.runtime.failed_records import ErrorPolicy
from streamrt.runtime.operator import StreamOperator
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.partitioners import StreamPartitioner

__all__ = ["ChainingStrategy", "NodeKind", "StreamEdge", "StreamGraph", "StreamNode"]


class ChainingStrategy(Enum):
    """Whether a node may share a task with its neighbours (Flink's ``ChainingStrategy``)."""

    ALWAYS = "always"  # chain with predecessor and successors where the edge allows
    HEAD = "head"  # start a new chain here (``start_new_chain()``); successors may chain
    NEVER = "never"  # a chain of its own (``disable_chaining()``)


class NodeKind(Enum):
    """What a node does in the graph."""

    SOURCE = "source"
    OPERATOR = "operator"
    SINK = "sink"


@dataclass(eq=False)
class StreamNode:
    """One operator of the job.

    Attributes:
        node_id: unique in the graph, in creation order.
        name: the operator's ``name()``.
        kind: source, operator or sink.
        operator_factory: creates one operator instance per subtask.
        parallelism: ``None`` until resolved to the environment's default.
        max_parallelism: ``None`` until resolved; the number of key groups of keyed state.
        chaining: the node's chaining strategy.
        key_selector: for operators on a keyed stream: extracts the state key of a value (of
            the first input, for a two-input operator).
        key_selector2: the key selector of a keyed two-input operator's second input.
        two_inputs: the operator has two inputs (Flink's ``TwoInputStreamOperator``): its
            in-edges say which input they feed, and it always heads its chain.
        source: the ``Source`` of a source node.
        watermark_strategy: the ``WatermarkStrategy`` a source node applies.
        uid: an optional stable id for state (defaults to the node id).
        error_policy: what a failing user function does: ``"fail"``, ``"skip"``,
            ``"side_output"`` (see ``failed_records``).
        applies_error_policy: whether the operator calls a user function per record and so
            applies ``error_policy`` (sources, sinks and the watermark assigner do not).
        in_edges / out_edges: edges in creation order.
    """

    node_id: int
    name: str
    kind: NodeKind
    operator_factory: Callable[[], StreamOperator[Any]]
    parallelism: int | None = None
    max_parallelism: int | None = None
    chaining: ChainingStrategy = ChainingStrategy.ALWAYS
    key_selector: Callable[[Any], Any] | None = None
    key_selector2: Callable[[Any], Any] | None = None
    two_inputs: bool = False
    source: Any = None
    watermark_strategy: Any = None
    uid: str | None = None
    error_policy: ErrorPolicy = "fail"
    applies_error_policy: bool = True
    in_edges: list[StreamEdge] = field(default_factory=list)
    out_edges: list[StreamEdge] = field(default_factory=list)

    @property
    def parallelism_or_fail(self) -> int:
        """The resolved parallelism (the graph resolves it before chaining)."""
        if self.parallelism is None:
            msg = f"parallelism of {self.name!r} is not resolved yet"
            raise RuntimeError(msg)
        return self.parallelism


@dataclass(eq=False)
class StreamEdge:
    """A connection from one node's (main or side) output to another node's input.

    Attributes:
        partitioner: ``None`` means "default": forward at equal parallelism, else rebalance.
        tag: the side output carried, ``None`` for the main output.
        channel: how the edge crosses tasks: ``None`` for local channels; connectors may set a
            spec (a Kafka topic) that replaces the local channel.
        type_number: which input of a two-input operator the edge feeds (1 or 2; Flink's
            ``StreamEdge.typeNumber``); 0 for a one-input operator.
    """

    edge_id: int
    source_id: int
    target_id: int
    partitioner: StreamPartitioner | None = None
    tag: OutputTag[Any] | None = None
    channel: Any = None
    type_number: int = 0


@dataclass
class StreamGraph:
    """Nodes and edges in creation order."""

    nodes: dict[int, StreamNode] = field(default_factory=dict)
    edges: list[StreamEdge] = field(default_factory=list)

    def add_node(self, node: StreamNode) -> StreamNode:
        """Register ``node`` under its id."""
        self.nodes[node.node_id] = node
        return node

    def add_edge(
        self,
        source_id: int,
        target_id: int,
        partitioner: StreamPartitioner | None = None,
        tag: OutputTag[Any] | None = None,
        channel: Any = None,
        type_number: int = 0,
    ) -> StreamEdge:
        """Connect two nodes (``type_number``: the input of a two-input target, 1 or 2)."""
        edge = StreamEdge(
            len(self.edges), source_id, target_id, partitioner, tag, channel, type_number
        )
        self.edges.append(edge)
        self.nodes[source_id].out_edges.append(edge)
        self.nodes[target_id].in_edges.append(edge)
        return edge

    def sources(self) -> list[StreamNode]:
        """Source nodes in creation order."""
        return [n for n in self.nodes.values() if n.kind is NodeKind.SOURCE]
