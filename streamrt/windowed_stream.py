"""Windowed streams: ``key_by(...).window(assigner)`` and ``window_all(assigner)``.

Port of Flink's ``WindowedStream`` and ``AllWindowedStream`` (PyFlink's names). Configure the
window (``trigger``, ``allowed_lateness``, ``side_output_late_data``, ``evictor``), then give
it a function (``reduce``, ``aggregate``, ``process``, ``apply``); that adds one
``WindowOperator`` and returns its output stream. Results carry the window's
``max_timestamp()`` as their timestamp.

``window_all`` runs at parallelism 1, as in Flink: the stream is keyed by a constant and the
window operator's parallelism is set to 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import operators as ops
from operators.window_contents import (
    AggregateContents,
    ListContents,
    ReduceContents,
    WindowContents,
    internal_window_function,
)
from streamrt.datastream import _per_subtask
from streamrt.errors import GraphError
from streamrt.functions import AggregateFunction, ReduceFunction, function_callable
from streamrt.runtime.output_tag import OutputTag
from streamrt.windowing.assigners import WindowAssigner
from streamrt.windowing.evictors import CountEvictor
from streamrt.windowing.triggers import CountTrigger, PurgingTrigger, Trigger

if TYPE_CHECKING:
    from streamrt.datastream import DataStream, KeyedStream

__all__ = ["AllWindowedStream", "WindowedStream", "count_windows"]

T = TypeVar("T")
K = TypeVar("K")
W = TypeVar("W")


def _check_assigner(assigner: object, method: str) -> WindowAssigner:
    if not isinstance(assigner, WindowAssigner):
        msg = (
            f"{method}() needs a WindowAssigner (e.g. TumblingEventTimeWindows.of(1000)); "
            f"got {assigner!r}"
        )
        raise GraphError(msg)
    return assigner


class WindowedStream(Generic[T, K, W]):
    """A keyed stream cut into windows; give it a function to get a ``DataStream``.

    Args:
        stream: the keyed stream.
        assigner: which windows each element belongs to.
    """

    def __init__(self, stream: KeyedStream[T, K], assigner: WindowAssigner) -> None:
        self._stream = stream
        self._assigner = _check_assigner(assigner, "window")
        self._trigger: Trigger | None = None
        self._lateness = 0
        self._late_tag: OutputTag[Any] | None = None
        self._evictor: CountEvictor | None = None
        self._keyed = True

    # -- configuration ------------------------------------------------------------------------
    def trigger(self, trigger: Trigger) -> Self:
        """Fire windows when ``trigger`` says, instead of the assigner's default."""
        if not isinstance(trigger, Trigger):
            msg = f"trigger() needs a Trigger (e.g. CountTrigger.of(10)); got {trigger!r}"
            raise GraphError(msg)
        self._trigger = trigger
        return self

    def allowed_lateness(self, lateness_ms: int) -> Self:
        """Keep windows ``lateness_ms`` past their end; late elements fire them again.

        Only event-time windows are late; for others it has no effect.
        """
        if not isinstance(lateness_ms, int) or isinstance(lateness_ms, bool) or lateness_ms < 0:
            msg = f"allowed_lateness() needs an int >= 0 of milliseconds; got {lateness_ms!r}"
            raise GraphError(msg)
        self._lateness = int(lateness_ms)
        return self

    def side_output_late_data(self, output_tag: OutputTag[T]) -> Self:
        """Send elements too late for every window to ``output_tag`` instead of dropping them.

        Read them with ``get_side_output(output_tag)`` on the stream the function returns.
        """
        if not isinstance(output_tag, OutputTag):
            msg = f"side_output_late_data() needs an OutputTag; got {output_tag!r}"
            raise GraphError(msg)
        self._late_tag = output_tag
        return self

    def evictor(self, evictor: CountEvictor) -> Self:
        """Keep only the elements ``evictor`` leaves when a window fires (``CountEvictor``).

        A window with an evictor keeps every element and aggregates when it fires.
        """
        if not isinstance(evictor, CountEvictor):
            msg = f"evictor() supports CountEvictor only; got {evictor!r}"
            raise GraphError(msg)
        self._evictor = evictor
        return self

    # -- functions ----------------------------------------------------------------------------
    def reduce(
        self,
        reduce_function: Callable[[T, T], T] | ReduceFunction[T],
        window_function: Any = None,
        output_type: Any = None,
    ) -> DataStream[Any]:
        """Combine a window's elements incrementally with ``reduce_function``.

        Emits the reduced value, or, with ``window_function`` (a ``ProcessWindowFunction`` or
        ``WindowFunction``), what that function makes of it (given as a one-element iterable,
        with the window's metadata). ``output_type`` (PyFlink's) is accepted and unused.
        """
        function_callable(reduce_function, ReduceFunction, "reduce")
        make = _per_subtask(reduce_function, "Window reduce")
        return self._build("reduce", lambda: ReduceContents(make()), window_function)

    def aggregate(
        self,
        aggregate_function: AggregateFunction[T, Any, Any],
        window_function: Any = None,
        accumulator_type: Any = None,
        output_type: Any = None,
    ) -> DataStream[Any]:
        """Aggregate a window's elements incrementally with an ``AggregateFunction``.

        Emits ``get_result(accumulator)``, or what ``window_function`` makes of it. The type
        arguments (PyFlink's) are accepted and unused.
        """
        AggregateContents(aggregate_function)  # validates at build time
        make = _per_subtask(aggregate_function, "Window aggregate")
        return self._build("aggregate", lambda: AggregateContents(make()), window_function)

    def process(self, process_window_function: Any, output_type: Any = None) -> DataStream[Any]:
        """Call ``process_window_function.process(key, context, elements)`` per window firing.

        ``output_type`` (PyFlink's) is accepted and unused.
        """
        return self._build("process", ListContents, process_window_function, required=True)

    def apply(self, window_function: Any, output_type: Any = None) -> DataStream[Any]:
        """Call ``window_function.apply(key, window, inputs)`` per window firing."""
        return self._build("apply", ListContents, window_function, required=True)

    def _build(
        self,
        kind: str,
        make_contents: Callable[[], WindowContents],
        window_function: Any,
        *,
        required: bool = False,
    ) -> DataStream[Any]:
        keyed = self._keyed
        if window_function is None and required:
            msg = f"{kind}() needs a window function; got None"
            raise GraphError(msg)
        if window_function is not None:
            internal_window_function(window_function, keyed=keyed)  # validates at build time
        name = f"Window({self._assigner!r}, {kind})"
        make_function = _per_subtask(window_function, name)
        assigner, trigger = self._assigner, self._trigger
        lateness, late_tag, evictor = self._lateness, self._late_tag, self._evictor

        def factory() -> ops.WindowOperator[Any, Any]:
            function = make_function()
            return ops.WindowOperator(
                assigner,
                make_contents(),
                trigger=trigger,
                window_function=(
                    None if function is None else internal_window_function(function, keyed=keyed)
                ),
                function=function,
                allowed_lateness=lateness,
                late_data_tag=late_tag,
                evictor=evictor,
            )

        factory()  # a trigger that cannot merge fails here, at build time, naming itself
        result = self._stream._transform(name, factory)  # noqa: SLF001  (the API layer's own)
        if not keyed:
            result.set_parallelism(1)
        return result


def _all_key(value: object) -> int:
    return 0


class AllWindowedStream(WindowedStream[T, int, W]):
    """Windows over a whole (non-keyed) stream; runs at parallelism 1, as in Flink.

    The window function has no key: ``ProcessAllWindowFunction.process(context, elements)``,
    ``AllWindowFunction.apply(window, inputs)``, or a callable ``(context, elements)``.
    """

    def __init__(self, stream: DataStream[T], assigner: WindowAssigner) -> None:
        super().__init__(stream.key_by(_all_key), _check_assigner(assigner, "window_all"))
        self._keyed = False


WS = TypeVar("WS", bound=WindowedStream[Any, Any, Any])


def count_windows(windowed: WS, size: int, slide: int | None) -> WS:
    """``windowed`` (on ``GlobalWindows``) as count windows, as Flink's ``countWindow`` builds them.

    Tumbling (``slide`` ``None``): fire and purge every ``size`` elements. Sliding: keep the
    last ``size`` elements (``CountEvictor``) and fire every ``slide`` elements.

    Raises:
        GraphError: ``size`` or ``slide`` is not a positive int.
    """
    for what, value in (("size", size), ("slide", slide)):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value <= 0
        ):
            msg = f"count_window(): {what} must be a positive int; got {value!r}"
            raise GraphError(msg)
    if slide is None:
        return windowed.trigger(PurgingTrigger.of(CountTrigger.of(size)))
    return windowed.evictor(CountEvictor.of(size)).trigger(CountTrigger.of(slide))
