"""The merging-window set of one key: Flink's ``MergingWindowSet``, over a plain dict.

Session windows merge: each element gets its own window, and a key's windows that overlap or
touch become one. The set maps each of the key's windows to its *state window*, the window
under which its contents are kept; when windows merge, the merged contents are kept under the
state window of one of them, so a merge moves no more state than it must. The dict is the
operator's keyed state (``window-merging``), so the set is checkpointed with the key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamrt.windowing.assigners import MergingWindowAssigner

__all__ = ["MergeFunction", "add_window"]

#: ``merge(result, merged windows, target state window, state windows merged into it)``
MergeFunction = Callable[[Any, list[Any], Any, list[Any]], None]


def add_window(
    assigner: MergingWindowAssigner,
    mapping: dict[Any, Any],
    new_window: Any,
    merge: MergeFunction,
) -> Any:
    """Add ``new_window`` to the set ``mapping``; return the window it ends up in.

    Port of ``MergingWindowSet.addWindow``: ``merge`` is called for each merge that involves
    windows already in the set (a new window inside an existing one merges nothing).
    """
    merges: list[tuple[Any, list[Any]]] = []
    assigner.merge_windows(
        [*mapping, new_window], lambda result, merged: merges.append((result, list(merged)))
    )
    result_window = new_window
    merged_new = False
    for merge_result, merged in merges:
        if new_window in merged:
            merged.remove(new_window)
            merged_new = True
            result_window = merge_result
        # the first merged window's state window keeps the merged contents
        target = mapping.get(merged[0]) if merged else None
        state_windows = [mapping.pop(w) for w in merged if w in mapping]
        if target is None:
            target = merge_result
        mapping[merge_result] = target
        if not (len(merged) == 1 and merged[0] == merge_result):
            merge(merge_result, merged, target, [w for w in state_windows if w != target])
    if not merges or (result_window == new_window and not merged_new):
        mapping[result_window] = result_window
    return result_window
