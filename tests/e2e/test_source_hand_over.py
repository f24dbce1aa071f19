"""A source that hands its batches over: fresh values reach the chain uncopied, in order.

With object reuse off the first hop copies a value the source's batch still holds; a reader
that keeps no reference to its batch (``SourceBatch.handed_over``, as the Kafka reader does)
lets the task empty the list while emitting, so a fresh dict is passed on as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streamrt import StreamExecutionEnvironment
from streamrt.runtime.source_reader import SourceBatch, SourceReaderBase, SourceReaderContext
from streamrt.testing import CollectSink


class FreshDicts:
    """Bounded: ``count`` fresh ``{"n": i, "batch": b}`` dicts in batches of 7.

    Remembers the ids of each batch's values, not the values: a batch's values are all alive
    until it is emitted, so while one of them is emitted a copy cannot have one of their ids
    (the ids of freed objects are reused). The task fetches ahead, so ids are kept per batch.
    """

    bounded = True

    def __init__(self, count: int, *, handed_over: bool, timestamps: bool) -> None:
        self.count = count
        self.handed_over = handed_over
        self.timestamps = timestamps
        self.ids: dict[int, set[int]] = {}

    def create_reader(self, context: SourceReaderContext) -> _Reader:
        return _Reader(self)


class _Reader(SourceReaderBase):
    def __init__(self, source: FreshDicts) -> None:
        self._source = source
        self._next = 0

    async def fetch(self) -> list[SourceBatch[Any]] | None:
        source = self._source
        if self._next >= source.count:
            return None
        end = min(self._next + 7, source.count)
        batch = self._next // 7
        values = [{"n": i, "batch": batch} for i in range(self._next, end)]
        source.ids[batch] = {id(v) for v in values}
        ts = [1_000 + i for i in range(self._next, end)] if source.timestamps else None
        self._next = end
        return [SourceBatch(values, "fresh", ts, position=end, handed_over=source.handed_over)]


@pytest.mark.parametrize("timestamps", [False, True])
@pytest.mark.parametrize("handed_over", [False, True])
async def test_handed_over_values_pass_the_first_hop_uncopied(
    env_factory: Callable[..., StreamExecutionEnvironment], handed_over: bool, timestamps: bool
) -> None:
    source = FreshDicts(30, handed_over=handed_over, timestamps=timestamps)
    same_object: list[bool] = []

    def note(d: dict[str, int]) -> int:
        same_object.append(id(d) in source.ids[d["batch"]])  # the source's own object?
        return d["n"]

    env = env_factory()
    sink: CollectSink[int] = CollectSink()
    env.from_source(source, source_name="fresh").map(note).sink_to(sink)
    await env.execute_async("hand over")
    assert sink.values == list(range(30))  # in order, every one
    if timestamps:
        assert sink.timestamps == [1_000 + i for i in range(30)]
    assert same_object == [handed_over] * 30
