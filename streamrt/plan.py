"""The chained job graph as text or as a Mermaid flowchart (``streamrt plan``).

Shows what runs where: each task (chain) with its operators, parallelism and max parallelism,
and each edge between tasks with its partitioner, side-output tag and channel type; an edge
into a two-input operator says which input it feeds, and the operator is marked
``(two inputs)``.
"""

from __future__ import annotations

import json

from streamrt.errors import ConfigError
from streamrt.runtime.job_graph import JobEdge, JobGraph
from streamrt.runtime.stream_graph import NodeKind

__all__ = ["render_plan"]


def _edge_label(edge: JobEdge) -> str:
    label = edge.partitioner.describe()
    if edge.tag is not None:
        label += f" [side output {edge.tag.tag_id!r}]"
    label = f"{label}, {edge.channel_kind}"
    if edge.type_number:
        label += f", input {edge.type_number}"
    return label


def render_plan(graph: JobGraph, fmt: str = "text") -> str:
    """Render ``graph`` as ``"text"``, ``"mermaid"`` or ``"json"``.

    Raises:
        ConfigError: an unknown format.
    """
    if fmt == "text":
        return _render_text(graph)
    if fmt == "mermaid":
        return _render_mermaid(graph)
    if fmt == "json":
        return json.dumps(graph.describe(), indent=2)
    msg = f"unknown plan format {fmt!r}; choose text, mermaid or json"
    raise ConfigError(msg)


def _render_text(graph: JobGraph) -> str:
    index = graph.task_numbers()
    subtasks = sum(v.parallelism for v in graph.vertices)
    segments = graph.segments()
    count = len(set(segments.values()))
    header = f"Job {graph.name!r}: {len(graph.vertices)} tasks, {subtasks} subtasks"
    if count > 1:
        header += f", {count} segments (run each with --segment N, or all in one process)"
    lines = [header]
    for vertex in graph.vertices:
        lines.append("")
        where = f", segment {segments[vertex.vertex_id]}" if count > 1 else ""
        lines.append(
            f"Task {index[vertex.vertex_id]}  parallelism {vertex.parallelism}, "
            f"max parallelism {vertex.max_parallelism}{where}"
        )
        chained_from = {e.target_id: e.source_id for e in vertex.chained_edges}
        inputs: dict[int, list[str]] = {}
        for edge in vertex.in_edges:
            inputs.setdefault(edge.stream_edge.target_id, []).append(
                f"[{edge.stream_edge.source_id}] of Task {index[edge.source_vertex.vertex_id]} "
                f"via {_edge_label(edge)}, "
                f"{edge.source_vertex.parallelism}x{vertex.parallelism} channels"
            )
        for node in vertex.nodes:
            kind = "" if node.kind is NodeKind.OPERATOR else f" ({node.kind.value})"
            if node.two_inputs:
                kind = " (two inputs)"
            origin = ""
            if node.node_id in chained_from:
                origin = f"  <- [{chained_from[node.node_id]}] chained"
            elif node.node_id in inputs:
                origin = "  <- " + "; ".join(inputs[node.node_id])
            lines.append(f"  [{node.node_id}] {node.name}{kind}{origin}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "'")


def _render_mermaid(graph: JobGraph) -> str:
    index = graph.task_numbers()
    lines = ["flowchart LR"]
    for vertex in graph.vertices:
        number = index[vertex.vertex_id]
        lines.append(f'  subgraph T{number}["Task {number} (parallelism {vertex.parallelism})"]')
        lines.extend(f'    n{n.node_id}["{_mermaid_text(n.name)}"]' for n in vertex.nodes)
        lines.extend(
            f"    n{e.source_id} -->|chained| n{e.target_id}" for e in vertex.chained_edges
        )
        lines.append("  end")
    for edge in graph.edges:
        label = _mermaid_text(_edge_label(edge))
        lines.append(
            f'  n{edge.stream_edge.source_id} ==>|"{label}"| n{edge.stream_edge.target_id}'
        )
    return "\n".join(lines) + "\n"
