"""Channel selection and the wiring of pointwise edges."""

from __future__ import annotations

import pytest

from streamrt import StreamExecutionEnvironment
from streamrt.runtime.partitioners import (
    GlobalPartitioner,
    RebalancePartitioner,
    RescalePartitioner,
    ShufflePartitioner,
)
from streamrt.testing import CollectSink


def test_rebalance_is_round_robin_from_a_random_start() -> None:
    partitioner = RebalancePartitioner()
    partitioner.setup(3)
    picks = [partitioner.select_channel(None) for _ in range(9)]
    start = picks[0]
    assert picks == [(start + i) % 3 for i in range(9)]


def test_rescale_is_round_robin_from_zero() -> None:
    partitioner = RescalePartitioner()
    partitioner.setup(2)
    assert [partitioner.select_channel(None) for _ in range(4)] == [0, 1, 0, 1]


def test_global_always_picks_zero_and_shuffle_stays_in_range() -> None:
    glob, shuffle = GlobalPartitioner(), ShufflePartitioner()
    glob.setup(4)
    shuffle.setup(4)
    assert {glob.select_channel(None) for _ in range(20)} == {0}
    assert {shuffle.select_channel(None) for _ in range(400)} == {0, 1, 2, 3}


def test_copies_do_not_share_round_robin_state() -> None:
    original = RebalancePartitioner()
    copy = original.copy()
    assert copy is not original and isinstance(copy, RebalancePartitioner)


@pytest.mark.parametrize(
    ("up", "down", "expected"),
    [
        (4, 2, [[0], [0], [1], [1]]),
        (2, 4, [[0, 1], [2, 3]]),
        (3, 3, [[0], [1], [2]]),
        (2, 3, [[0], [1, 2]]),
    ],
)
def test_rescale_wiring_is_pointwise(up: int, down: int, expected: list[list[int]]) -> None:
    env = StreamExecutionEnvironment(parallelism=up)
    env.from_collection([1]).rescale().map(str).set_parallelism(down).sink_to(CollectSink())
    edge = env.get_job_graph().edges[0]
    assert [list(edge.connected_consumers(p)) for p in range(up)] == expected


def test_all_to_all_wiring_for_hash_edges() -> None:
    env = StreamExecutionEnvironment(parallelism=2)
    env.from_collection([1]).key_by(str).map(str).set_parallelism(3).sink_to(CollectSink())
    edge = env.get_job_graph().edges[0]
    assert [list(edge.connected_consumers(p)) for p in range(2)] == [[0, 1, 2], [0, 1, 2]]
