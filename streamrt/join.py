"""Window join and co-group of two streams.

Port of Flink's ``JoinedStreams`` and ``CoGroupedStreams``, built as Flink builds them: each
side's records are tagged with their side, the two are unioned, keyed by the side's key
selector and windowed; a co-group window function splits each window's elements by side and
calls the user's function. So a window join is an ordinary window operator: its state,
lateness and cleanup are the window operator's.

    a.join(b).where(key_a).equal_to(key_b).window(assigner).apply(join_function)
    a.co_group(b).where(key_a).equal_to(key_b).window(assigner).apply(co_group_function)

``join`` emits ``join(first, second)`` for every pair of one key and window (an inner join);
``co_group`` calls ``co_group(firsts, seconds)`` once per key and window with either side
possibly empty (outer joins are written with it). Results carry the window's
``max_timestamp()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from operators.function_forms import collector_form
from streamrt.errors import GraphError
from streamrt.functions import Function, KeySelector, RuntimeContext, function_callable
from streamrt.windowing.assigners import WindowAssigner
from streamrt.windowing.functions import CoGroupFunction, JoinFunction, ProcessWindowFunction
from streamrt.windowing.triggers import Trigger

if TYPE_CHECKING:
    from streamrt.datastream import DataStream

__all__ = ["CoGroupedStreams", "JoinedStreams"]

T1 = TypeVar("T1")
T2 = TypeVar("T2")

_FIRST = 0
_SECOND = 1


class _CoGroupWindowFunction(ProcessWindowFunction[Any, Any, Any, Any]):
    """Splits a window's tagged elements by side and calls the user's function."""

    def __init__(self, function: Any, *, join: bool) -> None:
        self.function = function
        self.join = join
        self._bind()

    def _bind(self) -> None:
        if self.join:
            self._call: Callable[..., Any] = function_callable(self.function, JoinFunction, "join")
        else:
            method = function_callable(self.function, CoGroupFunction, "co_group")
            self._call = collector_form(method, 2)

    def __deepcopy__(self, memo: dict[int, Any]) -> _CoGroupWindowFunction:
        import copy

        return _CoGroupWindowFunction(copy.deepcopy(self.function, memo), join=self.join)

    def open(self, runtime_context: RuntimeContext) -> None:
        """Open the user's function."""
        if isinstance(self.function, Function):
            self.function.open(runtime_context)

    def close(self) -> None:
        """Close the user's function."""
        if isinstance(self.function, Function):
            self.function.close()

    def process(  # type: ignore[override]  # the collector form
        self, key: Any, context: Any, elements: Iterable[tuple[int, Any]], out: Any
    ) -> None:
        """One key's window: call the user's function."""
        firsts = [v for side, v in elements if side == _FIRST]
        seconds = [v for side, v in elements if side == _SECOND]
        if self.join:
            join = self._call
            collect = out.collect
            for first in firsts:
                for second in seconds:
                    collect(join(first, second))
        else:
            self._call(firsts, seconds, out)


def _key_selector(selector: Any, method: str) -> Callable[[Any], Any]:
    if not isinstance(selector, KeySelector) and not callable(selector):
        msg = f"{method}() needs a KeySelector or a callable; got {selector!r}"
        raise GraphError(msg)
    return function_callable(selector, KeySelector, "get_key")


def _tag_first(value: Any) -> tuple[int, Any]:
    return (_FIRST, value)


def _tag_second(value: Any) -> tuple[int, Any]:
    return (_SECOND, value)


class _TwoStreams(Generic[T1, T2]):
    """``a.join(b)`` or ``a.co_group(b)``, then ``where``, ``equal_to``, ``window``, ``apply``."""

    _join = True
    _method = "join"

    def __init__(self, first: DataStream[T1], second: DataStream[T2]) -> None:
        if first._env is not second._env:  # noqa: SLF001  (the API layer's own)
            msg = f"{self._method}() takes a DataStream of the same environment"
            raise GraphError(msg)
        self._first = first
        self._second = second
        self._key_first: Callable[[Any], Any] | None = None
        self._key_second: Callable[[Any], Any] | None = None
        self._assigner: WindowAssigner | None = None
        self._trigger: Trigger | None = None
        self._lateness = 0

    def where(self, key_selector: Callable[[T1], Any] | KeySelector[T1, Any]) -> Self:
        """The key of the first stream's records."""
        self._key_first = _key_selector(key_selector, "where")
        return self

    def equal_to(self, key_selector: Callable[[T2], Any] | KeySelector[T2, Any]) -> Self:
        """The key of the second stream's records (equal keys are joined)."""
        if self._key_first is None:
            msg = f"{self._method}(): call where() before equal_to()"
            raise GraphError(msg)
        self._key_second = _key_selector(key_selector, "equal_to")
        return self

    def window(self, assigner: WindowAssigner) -> Self:
        """The windows in which records are joined."""
        if self._key_second is None:
            msg = f"{self._method}(): call where() and equal_to() before window()"
            raise GraphError(msg)
        if not isinstance(assigner, WindowAssigner):
            msg = f"window() needs a WindowAssigner; got {assigner!r}"
            raise GraphError(msg)
        self._assigner = assigner
        return self

    def trigger(self, trigger: Trigger) -> Self:
        """Fire the join's windows when ``trigger`` says."""
        self._trigger = trigger
        return self

    def allowed_lateness(self, lateness_ms: int) -> Self:
        """Keep the join's windows ``lateness_ms`` past their end."""
        self._lateness = lateness_ms
        return self

    def apply(self, function: Any) -> DataStream[Any]:
        """The joined stream: ``function`` applied per pair (join) or per key and window."""
        if self._assigner is None or self._key_first is None or self._key_second is None:
            msg = f"{self._method}(): call where(), equal_to() and window() before apply()"
            raise GraphError(msg)
        window_function = _CoGroupWindowFunction(function, join=self._join)
        key_first, key_second = self._key_first, self._key_second

        def key(tagged: tuple[int, Any]) -> Any:
            side, value = tagged
            return key_first(value) if side == _FIRST else key_second(value)

        first = self._first.map(_tag_first).name(f"{self._method}: first input")
        second = self._second.map(_tag_second).name(f"{self._method}: second input")
        windowed = first.union(second).key_by(key).window(self._assigner)
        if self._trigger is not None:
            windowed.trigger(self._trigger)
        windowed.allowed_lateness(self._lateness)
        return windowed.process(window_function)


class JoinedStreams(_TwoStreams[T1, T2]):
    """``a.join(b)``: an inner join of records with equal keys in the same window.

    ``apply`` takes a ``JoinFunction`` or a callable ``(first, second) -> result``.
    """


class CoGroupedStreams(_TwoStreams[T1, T2]):
    """``a.co_group(b)``: both sides' records of each key and window together.

    ``apply`` takes a ``CoGroupFunction`` or a callable ``(firsts, seconds)`` returning an
    iterable of results (or taking a third argument, ``out``, to emit with).
    """

    _join = False
    _method = "co_group"
