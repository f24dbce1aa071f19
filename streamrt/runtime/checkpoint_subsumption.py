"""A completed checkpoint subsumes every older one (Flink's checkpoint subsumption).

Readers and edges keep something per pending checkpoint (offsets to commit, barrier
positions); when checkpoint ``n`` completes, what older checkpoints kept is never needed again,
even if their own completion was never announced (a failed or timed-out checkpoint).
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["pop_subsuming"]

V = TypeVar("V")


def pop_subsuming(pending: dict[int, V], checkpoint_id: int) -> V | None:
    """Remove and return the entry of ``checkpoint_id``; drop the entries of older ones."""
    found = pending.pop(checkpoint_id, None)
    for older in [c for c in pending if c < checkpoint_id]:
        del pending[older]
    return found
