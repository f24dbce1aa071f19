"""Port of Flink's ``WindowOperator`` (and ``EvictingWindowOperator``): windows on a keyed stream.

Each element is assigned windows; its value is added to each window's contents; the trigger
decides when a window fires (emits its result, stamped with the window's ``max_timestamp()``)
and when it is purged. All of it lives in keyed state of the record's key, so checkpoints,
restores and rescaling by key group need nothing special:

* ``window-contents``: ``key -> {window: contents}`` (a reduced value, an accumulator, or the
  list of elements);
* ``window-merging``: ``key -> {window: state window}``, the merging-window set of session
  windows (Flink's ``MergingWindowSet``): contents of merged windows are kept under one of
  the merged windows, the *state window*, so a merge moves no more than it must;
* ``window-trigger/<name>`` and ``window-state/<name>``: per-window state of the trigger and
  of the process window function (``key -> {window: value}``); ``window-global/<name>``: the
  function's per-key state;
* timers: (timestamp, key, window) in the operator's timer service.

Lateness (event time): a window is late once ``max_timestamp() + allowed_lateness <=`` the
watermark. An element all of whose windows are late goes to the late-data side output when one
is set, and is otherwise dropped and counted in ``late_records_dropped``. A cleanup timer at
``max_timestamp() + allowed_lateness`` removes the window's contents, its trigger and
per-window state, and its merging-set entry, so nothing is left once a window cannot fire.

Differences from Flink: the window's per-window state is removed at cleanup even when the
function's ``clear`` does not do it; ``window_state()`` is refused for merging windows (as in
Flink) with a ``GraphError``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from operators.base import AbstractUdfStreamOperator
from operators.merging_window_set import add_window
from operators.window_contents import (
    ABSENT,
    AggregateContents,
    ListContents,
    ReduceContents,
    WindowContents,
    WindowFunctionCall,
)
from operators.window_contents import fold as fold_contents
from operators.window_contexts import ProcessWindowContext, WindowTriggerContext
from streamrt.errors import GraphError
from streamrt.functions import Function, RuntimeContext
from streamrt.runtime.elements import MAX_WATERMARK, StreamRecord
from streamrt.runtime.operator import OperatorContext, raise_operator_failure
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.outputs.timestamped import TimestampedCollector
from streamrt.runtime.timer_service import InternalTimerService
from streamrt.windowing.assigners import (
    MergingWindowAssigner,
    TumblingEventTimeWindows,
    WindowAssigner,
)
from streamrt.windowing.evictors import CountEvictor
from streamrt.windowing.functions import ProcessAllWindowFunction, ProcessWindowFunction
from streamrt.windowing.triggers import EventTimeTrigger, Trigger, TriggerResult
from streamrt.windowing.windows import TimeWindow

__all__ = ["WindowOperator"]

IN = TypeVar("IN")
OUT = TypeVar("OUT")

_CONTINUE = TriggerResult.CONTINUE


class WindowOperator(AbstractUdfStreamOperator[IN, OUT, Any]):
    """Windows of a keyed stream (see the module docstring).

    Args:
        assigner: which windows each element belongs to.
        trigger: when windows fire; ``None`` for the assigner's default.
        contents: how a window's elements accumulate (reduce, aggregate or list).
        window_function: ``call(key, context, elements, out)``, or ``None`` to emit the
            contents' result itself; ``function`` is the user object behind it (for ``open``,
            ``close`` and ``clear``).
        allowed_lateness: ms after a window's end during which late elements still update it.
        late_data_tag: side output for elements too late for any window (else counted).
        evictor: keep only some elements when a window fires (list contents, folded then).
    """

    def __init__(
        self,
        assigner: WindowAssigner,
        contents: WindowContents,
        *,
        trigger: Trigger | None = None,
        window_function: WindowFunctionCall | None = None,
        function: Any = None,
        allowed_lateness: int = 0,
        late_data_tag: OutputTag[Any] | None = None,
        evictor: CountEvictor | None = None,
    ) -> None:
        super().__init__(function)
        self.assigner = assigner
        self.trigger = trigger if trigger is not None else assigner.get_default_trigger()
        self._merging = isinstance(assigner, MergingWindowAssigner)
        if self._merging and not self.trigger.can_merge():
            msg = f"trigger {self.trigger!r} cannot be used with merging windows ({assigner!r})"
            raise GraphError(msg)
        self._event_time = assigner.is_event_time()
        self._lateness = allowed_lateness
        self._late_tag = late_data_tag
        self._evictor = evictor
        self._folded = contents
        self._contents = ListContents() if evictor is not None else contents
        self._window_function = window_function
        self._functions = [f for f in (*contents.functions(), function) if f is not None]
        self._clear_function = (
            function.clear
            if isinstance(function, ProcessWindowFunction | ProcessAllWindowFunction)
            else None
        )
        # the default event-time path needs no trigger calls per element (decided here once)
        self._fast = (
            type(self.trigger) is EventTimeTrigger and not self._merging and evictor is None
        )
        self._tumbling = self._fast and type(assigner) is TumblingEventTimeWindows
        if isinstance(contents, ReduceContents):
            self._mode, self._reduce = "reduce", contents.reduce_function
        elif isinstance(contents, AggregateContents):
            self._mode, self._agg = "aggregate", contents.function
        else:
            self._mode = "other"
        self._process_one = (
            self._process_default
            if self._fast
            else self._process_merging
            if self._merging
            else self._process
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Bind the key selector; create the timer service (timers carry their window)."""
        super().setup(context, output)
        if context.key_selector is None or self.state_backend is None:
            msg = f"window operator {context.name!r} needs a keyed stream (key_by() first)"
            raise GraphError(msg)
        self._key_of = context.key_selector
        self._collector: TimestampedCollector[OUT] = TimestampedCollector(output)
        self.timers = self.create_timer_service()

    def create_timer_service(self) -> InternalTimerService:
        """Timers of ``(timestamp, key, window)``: the window is the timer's namespace."""
        assert self.state_backend is not None
        self.timer_service = InternalTimerService(
            self.state_backend,
            self.context.processing_time,
            self._on_event_timer,
            self._on_processing_timer,
            namespaced=True,
        )
        return self.timer_service

    async def open(self) -> None:
        """Bind the state tables (after a restore replaced them), then open the functions."""
        backend = self.state_backend
        assert backend is not None
        self._windows: dict[Any, dict[Any, Any]] = backend.table("window-contents", "map")
        self._merging_sets: dict[Any, dict[Any, Any]] = backend.table("window-merging", "map")
        self._trigger_ctx = WindowTriggerContext(self, backend)
        self._window_ctx = ProcessWindowContext(
            self, self._collector, backend, merging=self._merging
        )
        no_function = self._window_function is None
        # the default timer path emits the contents' result itself when nothing comes between
        self._plain_result = no_function and self._evictor is None
        self._result_of = self._contents.result
        # whether a window's cleanup must reach the function's clear() and per-window state
        self._window_state_used = self._clear_function is not None or not no_function
        if self._tumbling:
            self.process_element = self._tumbling_path()  # type: ignore[method-assign,assignment]
        runtime_context = RuntimeContext(self.context, backend)
        for function in self._functions:
            if isinstance(function, Function):
                function.open(runtime_context)

    async def close(self) -> None:
        """Close the functions."""
        for function in self._functions:
            if isinstance(function, Function):
                function.close()

    def state_dict(self) -> dict[str, Any]:
        """An independent copy: contents may be lists or accumulators that change in place."""
        return copy.deepcopy(self.snapshot_state())

    # -- elements -------------------------------------------------------------------------------
    def get_current_processing_time(self) -> int:
        """The assigners' context: the operator's clock."""
        return self.context.processing_time.current_processing_time()

    def process_element(self, record: StreamRecord[IN]) -> None:
        """Add the element to each of its windows; fire or purge as the trigger says."""
        try:
            self._process_one(record)
        except Exception as exc:  # downstream OperatorErrors pass through
            self.on_user_error(exc, record)

    def _tumbling_path(self) -> Callable[[StreamRecord[IN]], None]:
        """``process_element`` for tumbling event-time windows with the default trigger.

        The semantics of ``_process_default``, as a closure over what it reads (no attribute
        look-ups per record), with the window computed inline, the last window object reused,
        and reduce/aggregate called without a wrapper.
        """
        operator = self
        backend = self.state_backend
        assert backend is not None
        size, offset = self.assigner.size, self.assigner.offset  # type: ignore[attr-defined]
        lateness = self._lateness
        table = self._windows
        key_of = self._key_of
        register = self.timers.register_event_time_timer
        mode = self._mode
        reduce = self._reduce if mode == "reduce" else None
        agg = self._agg if mode == "aggregate" else None
        agg_add = agg.add if agg is not None else None
        agg_create = agg.create_accumulator if agg is not None else None
        add_contents = self._contents.add
        last = TimeWindow(MAX_WATERMARK, MAX_WATERMARK)

        def process_element(record: StreamRecord[IN]) -> None:
            nonlocal last
            try:
                value = record.value
                timestamp = record.timestamp
                if timestamp is None:
                    operator.assigner.assign_windows(value, timestamp, operator)  # raises
                    return
                start = timestamp - (timestamp - offset) % size
                window = last
                if window[0] != start:
                    window = last = TimeWindow(start, start + size)
                end = start + size - 1
                watermark = operator.current_watermark
                if end + lateness <= watermark:
                    operator._late(record)
                    return
                key = key_of(value)
                contents = table.get(key)
                if contents is None:
                    contents = table[key] = {}
                acc = contents.get(window, ABSENT)
                if agg_add is not None:
                    new = agg_add(value, agg_create() if acc is ABSENT else acc)  # type: ignore[misc]
                elif reduce is not None:
                    new = value if acc is ABSENT else reduce(acc, value)
                else:
                    new = add_contents(acc, value)
                contents[window] = new
                if acc is ABSENT:
                    backend.current_key = key
                    if end > watermark:
                        register(end, window)
                    if lateness:
                        register(end + lateness, window)
                if end <= watermark:  # a late firing, within the allowed lateness
                    backend.current_key = key
                    operator._emit(key, window, new)
            except Exception as exc:  # downstream OperatorErrors pass through
                operator.on_user_error(exc, record)

        return process_element

    def _process_default(self, record: StreamRecord[IN]) -> None:
        # EventTimeTrigger inlined: a window's first element registers its timers; an element
        # for a window the watermark has passed (within the allowed lateness) fires it again
        value = record.value
        key = self._key_of(value)
        self.state_backend.current_key = key  # type: ignore[union-attr]
        timestamp = record.timestamp
        windows = self.assigner.assign_windows(value, timestamp, self)
        watermark = self.current_watermark
        lateness = self._lateness
        contents = self._windows.get(key)
        if contents is None:
            contents = self._windows[key] = {}
        add = self._contents.add
        skipped = True
        for window in windows:
            end = window.max_timestamp()
            if end + lateness <= watermark:
                continue
            skipped = False
            acc = contents.get(window, ABSENT)
            contents[window] = new = add(acc, value)
            if end <= watermark:
                self._emit(key, window, new)
            elif acc is ABSENT:
                self.timers.register_event_time_timer(end, window)
            if acc is ABSENT and lateness:
                self._register_cleanup_timer(window)
        if skipped:
            if not contents:
                del self._windows[key]
            self._late(record)

    def _process(self, record: StreamRecord[IN]) -> None:
        value = record.value
        key = self._key_of(value)
        self.state_backend.current_key = key  # type: ignore[union-attr]
        timestamp = record.timestamp
        windows = self.assigner.assign_windows(value, timestamp, self)
        table = self._windows
        contents = table.get(key)
        if contents is None:
            contents = table[key] = {}
        ctx = self._trigger_ctx
        skipped = True
        for window in windows:
            if self._is_late(window):
                continue
            skipped = False
            contents[window] = self._contents.add(contents.get(window, ABSENT), value)
            ctx.namespace = window
            result = self.trigger.on_element(value, timestamp, window, ctx)
            if result is not _CONTINUE:
                self._apply(result, key, window, window, contents)
            self._register_cleanup_timer(window)
        if not contents:
            del table[key]
        if skipped:
            self._late(record)

    def _process_merging(self, record: StreamRecord[IN]) -> None:
        value = record.value
        key = self._key_of(value)
        self.state_backend.current_key = key  # type: ignore[union-attr]
        timestamp = record.timestamp
        windows = self.assigner.assign_windows(value, timestamp, self)
        table = self._windows
        contents = table.get(key)
        if contents is None:
            contents = table[key] = {}
        mapping = self._merging_sets.get(key)
        if mapping is None:
            mapping = self._merging_sets[key] = {}
        ctx = self._trigger_ctx
        skipped = True
        for window in windows:
            actual = add_window(
                self.assigner,  # type: ignore[arg-type]
                mapping,
                window,
                lambda result, merged, target, states: self._merge(
                    result, merged, target, states, contents
                ),
            )
            if self._is_late(actual):
                del mapping[actual]  # retire it: the merge made nothing that can still fire
                continue
            skipped = False
            state_window = mapping[actual]
            contents[state_window] = self._contents.add(contents.get(state_window, ABSENT), value)
            ctx.namespace = actual
            result = self.trigger.on_element(value, timestamp, actual, ctx)
            if result is not _CONTINUE:
                self._apply(result, key, actual, state_window, contents)
            self._register_cleanup_timer(actual)
        if not contents:
            del table[key]
        if not mapping:
            del self._merging_sets[key]
        if skipped:
            self._late(record)

    def _merge(
        self,
        result: Any,
        merged: list[Any],
        target: Any,
        state_windows: list[Any],
        contents: dict[Any, Any],
    ) -> None:
        ctx = self._trigger_ctx
        ctx.namespace = result
        ctx.merged_windows = merged
        self.trigger.on_merge(result, ctx)
        for window in merged:
            ctx.namespace = window
            self.trigger.clear(window, ctx)
            ctx.state.clear_namespace(window)
            self._delete_cleanup_timer(window)
        ctx.merged_windows = []
        merged_contents = contents.get(target, ABSENT)
        for window in state_windows:
            acc = contents.pop(window, ABSENT)
            if acc is ABSENT:
                continue
            merged_contents = (
                acc if merged_contents is ABSENT else self._contents.merge(merged_contents, acc)
            )
        if merged_contents is not ABSENT:
            contents[target] = merged_contents

    def _late(self, record: StreamRecord[IN]) -> None:
        timestamp = record.timestamp
        if not self._event_time or timestamp is None:
            return
        if timestamp + self._lateness > self.current_watermark:
            return
        if self._late_tag is not None:
            self.output.collect_side(self._late_tag, StreamRecord(record.value, timestamp))
        else:
            self.metrics.late_records_dropped.count += 1

    # -- firing ---------------------------------------------------------------------------------
    def _is_late(self, window: Any) -> bool:
        return self._event_time and self._cleanup_time(window) <= self.current_watermark

    def _cleanup_time(self, window: Any) -> int:
        end = window.max_timestamp()
        if not self._event_time:
            return end  # type: ignore[no-any-return]
        return min(end + self._lateness, MAX_WATERMARK)  # type: ignore[no-any-return]

    def _register_cleanup_timer(self, window: Any) -> None:
        time = self._cleanup_time(window)
        if time == MAX_WATERMARK:
            return  # never: the global window
        if self._event_time:
            self.timers.register_event_time_timer(time, window)
        else:
            self.timers.register_processing_time_timer(time, window)

    def _delete_cleanup_timer(self, window: Any) -> None:
        time = self._cleanup_time(window)
        if time == MAX_WATERMARK:
            return
        if self._event_time:
            self.timers.delete_event_time_timer(time, window)
        else:
            self.timers.delete_processing_time_timer(time, window)

    def _apply(
        self,
        result: TriggerResult,
        key: Any,
        window: Any,
        state_window: Any,
        contents: dict[Any, Any],
    ) -> None:
        if result.is_fire:
            acc = contents.get(state_window, ABSENT)
            if acc is not ABSENT:
                self._emit(key, window, acc, state_window, contents)
        if result.is_purge:
            contents.pop(state_window, None)

    def _emit(
        self,
        key: Any,
        window: Any,
        acc: Any,
        state_window: Any = None,
        contents: dict[Any, Any] | None = None,
    ) -> None:
        """Emit ``window``'s result, stamped with its ``max_timestamp()``."""
        if self._evictor is not None:
            acc = self._evictor.evict_before(acc)
            if contents is not None:
                contents[state_window] = acc
            acc = fold_contents(self._folded, acc)
            if acc is ABSENT:
                return
            result: Any = self._folded.result(acc)
            single = self._folded.single
        else:
            result = self._contents.result(acc)
            single = self._contents.single
        collector = self._collector
        collector.timestamp = window.max_timestamp()
        call = self._window_function
        if call is None:
            collector.collect(result)
            return
        ctx = self._window_ctx
        ctx.namespace = window
        # a read-only copy, once per firing: the function must not change the stored contents
        # (a later late firing reads them again); Flink hands it an iterable over the state
        call(key, ctx, (result,) if single else tuple(result), collector)

    def _on_event_timer(self, time: int, key: Any, window: Any) -> None:
        if not self._fast:
            self._on_timer(time, key, window, event_time=True)
            return
        # EventTimeTrigger inlined: fire at the window's end, clean up at end + lateness
        contents = self._windows.get(key)
        end = window.max_timestamp()
        if contents is not None and time == end:
            acc = contents.get(window, ABSENT)
            if acc is not ABSENT:
                if self._plain_result:  # no window function: emit the result itself
                    collector = self._collector
                    collector.timestamp = end
                    collector.collect(self._result_of(acc))
                else:
                    self._emit(key, window, acc)
        if time == end + self._lateness:
            if contents is not None:
                contents.pop(window, None)
                if not contents:
                    del self._windows[key]
            if self._window_state_used:
                self._clear_window_state(window)

    def _on_processing_timer(self, time: int, key: Any, window: Any) -> None:
        try:  # runs as a task mail, outside any chained call that would name the operator
            self._on_timer(time, key, window, event_time=False)
        except Exception as exc:
            raise_operator_failure(self.context, exc, " in a window timer")

    def _on_timer(self, time: int, key: Any, window: Any, *, event_time: bool) -> None:
        contents = self._windows.get(key)
        mapping = None
        state_window = window
        if self._merging:
            mapping = self._merging_sets.get(key)
            state_window = None if mapping is None else mapping.get(window)
            if state_window is None:
                return  # a timer of a window that was merged away
        # as Flink: the trigger sees every timer, also of a window whose contents were purged
        # (a continuous trigger chains its next timer here); only emitting needs contents
        ctx = self._trigger_ctx
        ctx.namespace = window
        if event_time:
            result = self.trigger.on_event_time(time, window, ctx)
        else:
            result = self.trigger.on_processing_time(time, window, ctx)
        if result is not _CONTINUE and contents is not None:
            self._apply(result, key, window, state_window, contents)
        if event_time == self._event_time and time == self._cleanup_time(window):
            self._clear_all_state(key, window, state_window, contents, mapping)

    def _clear_all_state(
        self,
        key: Any,
        window: Any,
        state_window: Any,
        contents: dict[Any, Any] | None,
        mapping: dict[Any, Any] | None,
    ) -> None:
        """The window can no longer fire: drop its contents, timers and state."""
        if contents is not None:
            contents.pop(state_window, None)
            if not contents:
                del self._windows[key]
        ctx = self._trigger_ctx
        ctx.namespace = window
        self.trigger.clear(window, ctx)
        ctx.state.clear_namespace(window)
        self._clear_window_state(window)
        if mapping is not None:
            mapping.pop(window, None)
            if not mapping:
                del self._merging_sets[key]

    def _clear_window_state(self, window: Any) -> None:
        """The function's ``clear`` and the window's per-window state."""
        window_ctx = self._window_ctx
        window_ctx.namespace = window
        if self._clear_function is not None:
            self._clear_function(window_ctx)
        if window_ctx.per_window is not None:
            window_ctx.per_window.clear_namespace(window)

    # -- introspection (tests, docs) --------------------------------------------------------------
    def windows_of(self, key: Any) -> Iterable[Any]:
        """The windows ``key`` has contents in."""
        return list(self._windows.get(key, ()))
