"""Evictors: remove elements from a window before its function sees them.

Port of Flink's ``CountEvictor`` (evicting before the function only). A window with an
evictor keeps all its elements (no incremental aggregation) and applies reduce/aggregate when
it fires, as Flink's ``EvictingWindowOperator`` does.
"""

from __future__ import annotations

from typing import Any

from streamrt.errors import GraphError

__all__ = ["CountEvictor"]


class CountEvictor:
    """Keeps the last ``max_count`` elements of a window when it fires."""

    def __init__(self, max_count: int) -> None:
        if not isinstance(max_count, int) or isinstance(max_count, bool) or max_count <= 0:
            msg = f"CountEvictor.of: max_count must be a positive int; got {max_count!r}"
            raise GraphError(msg)
        self.max_count = max_count

    @staticmethod
    def of(max_count: int) -> CountEvictor:
        """Keep the last ``max_count`` elements."""
        return CountEvictor(max_count)

    def evict_before(self, elements: list[Any]) -> list[Any]:
        """The elements that stay (the stored list is replaced by them)."""
        if len(elements) <= self.max_count:
            return elements
        return elements[len(elements) - self.max_count :]

    def __repr__(self) -> str:
        return f"CountEvictor.of({self.max_count})"
