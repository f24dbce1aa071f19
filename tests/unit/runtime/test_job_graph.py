"""Chaining decisions (Flink's rules) and the plan printed for a known graph."""

from __future__ import annotations

from typing import Any

import pytest

from streamrt import DataStream, GraphError, OutputTag, StreamExecutionEnvironment
from streamrt.runtime.job_graph import JobGraph
from streamrt.testing import CollectSink


def chains(graph: JobGraph) -> list[list[str]]:
    return [[n.name for n in v.nodes] for v in graph.vertices]


def orders_pipeline(env: StreamExecutionEnvironment) -> None:
    errors = OutputTag[str]("errors")

    def parse(line: str, ctx: Any, out: Any) -> None:
        if line.startswith("{"):
            out.collect(line)
        else:
            ctx.output(errors, line)

    parsed: DataStream[str] = (
        env.from_collection(["{}"]).name("Source: orders").process(parse).name("parse")
    )
    valid = parsed.filter(bool).name("valid")
    totals = valid.key_by(len).reduce(lambda a, b: a).name("total").set_parallelism(3)
    totals.sink_to(CollectSink()).name("out").set_parallelism(3)
    parsed.get_side_output(errors).sink_to(CollectSink()).name("dead letters")


def test_plan_text_for_a_known_graph() -> None:
    env = StreamExecutionEnvironment(parallelism=2)
    orders_pipeline(env)
    assert env.get_execution_plan("orders") == (
        "Job 'orders': 2 tasks, 5 subtasks\n"
        "\n"
        "Task 1  parallelism 2, max parallelism 128\n"
        "  [1] Source: orders (source)\n"
        "  [2] parse  <- [1] chained\n"
        "  [3] valid  <- [2] chained\n"
        "  [6] dead letters (sink)  <- [2] chained\n"
        "\n"
        "Task 2  parallelism 3, max parallelism 128\n"
        "  [4] total  <- [3] of Task 1 via HASH, local, 2x3 channels\n"
        "  [5] out (sink)  <- [4] chained\n"
    )


def test_plan_mermaid_for_a_known_graph() -> None:
    env = StreamExecutionEnvironment(parallelism=2)
    orders_pipeline(env)
    assert env.get_execution_plan("orders", "mermaid") == (
        "flowchart LR\n"
        '  subgraph T1["Task 1 (parallelism 2)"]\n'
        '    n1["Source: orders"]\n'
        '    n2["parse"]\n'
        '    n3["valid"]\n'
        '    n6["dead letters"]\n'
        "    n1 -->|chained| n2\n"
        "    n2 -->|chained| n3\n"
        "    n2 -->|chained| n6\n"
        "  end\n"
        '  subgraph T2["Task 2 (parallelism 3)"]\n'
        '    n4["total"]\n'
        '    n5["out"]\n'
        "    n4 -->|chained| n5\n"
        "  end\n"
        '  n3 ==>|"HASH, local"| n4\n'
    )


def test_side_output_edges_across_tasks_are_labelled() -> None:
    env = StreamExecutionEnvironment(parallelism=1)
    tag = OutputTag[int]("late")
    stream: DataStream[int] = env.from_collection([1]).process(
        lambda v, ctx, out: ctx.output(tag, v)
    )
    stream.get_side_output(tag).rebalance().sink_to(CollectSink()).name("late sink")
    plan = env.get_execution_plan("side")
    assert "via REBALANCE [side output 'late'], local, 1x1 channels" in plan


def test_chaining_rules() -> None:
    env = StreamExecutionEnvironment(parallelism=2)
    src = env.from_collection([1, 2])
    a = src.map(str).name("a")
    b = a.map(str).name("b").disable_chaining()
    c = b.map(str).name("c")
    d = c.map(str).name("d").start_new_chain()
    e = d.map(str).name("e").set_parallelism(1)  # unequal parallelism: rebalance, new task
    f = e.rebalance().map(str).name("f").set_parallelism(1)  # not FORWARD: new task
    f.union(e).map(str).name("g").set_parallelism(1).sink_to(CollectSink()).name(
        "sink"
    ).set_parallelism(1)
    graph = env.get_job_graph()
    assert chains(graph) == [
        ["Source: Collection Source", "a"],
        ["b"],
        ["c"],
        ["d"],
        ["e"],
        ["f"],
        ["g", "sink"],
    ]
    partitioners = {
        (x.source_vertex.head.name, x.target_vertex.head.name): x.partitioner.name
        for x in graph.edges
    }
    assert partitioners == {
        ("Source: Collection Source", "b"): "FORWARD",
        ("b", "c"): "FORWARD",
        ("c", "d"): "FORWARD",
        ("d", "e"): "REBALANCE",
        ("e", "f"): "REBALANCE",
        ("f", "g"): "FORWARD",
        ("e", "g"): "FORWARD",
    }


def test_disabling_chaining_globally_gives_every_operator_its_own_task() -> None:
    env = StreamExecutionEnvironment(chaining=False)
    env.from_collection([1]).map(str).filter(bool).sink_to(CollectSink())
    assert [len(c) for c in chains(env.get_job_graph())] == [1, 1, 1, 1]


def test_operators_that_reach_no_sink_are_dropped() -> None:
    env = StreamExecutionEnvironment()
    src = env.from_collection([1])
    src.map(str).name("dangling")
    src.sink_to(CollectSink()).name("kept")
    assert chains(env.get_job_graph()) == [["Source: Collection Source", "kept"]]


def test_explicit_forward_across_unequal_parallelism_is_rejected() -> None:
    env = StreamExecutionEnvironment(parallelism=2)
    env.from_collection([1]).forward().map(str).set_parallelism(3).sink_to(CollectSink())
    with pytest.raises(
        GraphError,
        match="forward partitioning needs equal parallelism; "
        "'Source: Collection Source' has 2 and 'Map' has 3",
    ):
        env.get_job_graph()


def test_a_job_without_sink_is_rejected() -> None:
    env = StreamExecutionEnvironment()
    env.from_collection([1]).map(str)
    with pytest.raises(GraphError, match="job 'empty' has no sink"):
        env.get_job_graph("empty")


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_parallelism_names_the_operator(bad: object) -> None:
    env = StreamExecutionEnvironment()
    with pytest.raises(GraphError, match=r"parallelism must be an int >= 1; got .* for 'parse'"):
        env.from_collection([1]).map(str).name("parse").set_parallelism(bad)  # type: ignore[arg-type]


def test_name_on_a_virtual_stream_is_a_clear_error() -> None:
    env = StreamExecutionEnvironment()
    with pytest.raises(GraphError, match=r"name\(\) applies to the output of an operator"):
        env.from_collection([1]).key_by(str).name("x")


def test_max_parallelism_defaults_follow_flink() -> None:
    env = StreamExecutionEnvironment(parallelism=100)
    env.from_collection([1]).sink_to(CollectSink())
    assert env.get_job_graph().vertices[0].max_parallelism == 256
