"""Completing checkpoint n drops what older checkpoints kept, and nothing newer."""

from __future__ import annotations

from streamrt.runtime.checkpoint_subsumption import pop_subsuming


def test_pop_returns_the_entry_and_drops_only_older_ones() -> None:
    pending = {3: "c3", 4: "c4", 5: "c5", 7: "c7"}
    assert pop_subsuming(pending, 5) == "c5"
    assert pending == {7: "c7"}


def test_a_checkpoint_without_an_entry_still_subsumes_older_ones() -> None:
    pending = {1: "c1", 2: "c2", 9: "c9"}
    assert pop_subsuming(pending, 4) is None
    assert pending == {9: "c9"}
