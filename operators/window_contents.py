"""What a window keeps (its contents) and how its result reaches the window function.

Port of the roles of Flink's window state kinds (``ReducingState``, ``AggregatingState``,
``ListState`` of a window) and of its ``InternalWindowFunction`` wrappers. Everything here is
decided once, when the operator is built: the record path calls ``add`` and nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from operators.function_forms import collector_form
from streamrt.errors import GraphError
from streamrt.functions import AggregateFunction, ReduceFunction, function_callable
from streamrt.windowing.functions import (
    AllWindowFunction,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    WindowFunction,
)

__all__ = [
    "ABSENT",
    "AggregateContents",
    "ListContents",
    "ReduceContents",
    "WindowContents",
    "WindowFunctionCall",
    "internal_window_function",
]

#: the contents of a window that has none yet
ABSENT: Any = object()

#: ``call(key, context, elements, out)``: the window function in its collector form
WindowFunctionCall = Callable[[Any, Any, Iterable[Any], Any], None]


class WindowContents(ABC):
    """How elements accumulate in a window, and what the window function is given."""

    #: whether ``result`` is one value (given to a window function as a one-element tuple)
    single = True

    @abstractmethod
    def add(self, contents: Any, value: Any) -> Any:
        """``contents`` (or ``ABSENT``) with ``value`` added."""

    @abstractmethod
    def merge(self, a: Any, b: Any) -> Any:
        """The contents of two windows that merge."""

    @abstractmethod
    def result(self, contents: Any) -> Any:
        """What the window emits (or passes to its window function)."""

    def functions(self) -> list[Any]:
        """The user functions inside (opened and closed with the operator)."""
        return []


class ReduceContents(WindowContents):
    """Keeps one value, ``fn(stored, new)`` after each element (incremental)."""

    def __init__(self, function: Any) -> None:
        self._function = function
        self._reduce = self.reduce_function = function_callable(function, ReduceFunction, "reduce")

    def add(self, contents: Any, value: Any) -> Any:
        """``contents`` with ``value`` added."""
        return value if contents is ABSENT else self._reduce(contents, value)

    def merge(self, a: Any, b: Any) -> Any:
        """The contents of two merging windows."""
        return self._reduce(a, b)

    def result(self, contents: Any) -> Any:
        """The window's result."""
        return contents

    def functions(self) -> list[Any]:
        """The user functions inside."""
        return [self._function]


class AggregateContents(WindowContents):
    """Keeps an accumulator of an ``AggregateFunction`` (incremental)."""

    def __init__(self, function: AggregateFunction[Any, Any, Any]) -> None:
        if not isinstance(function, AggregateFunction):
            msg = (
                "aggregate() needs an AggregateFunction (create_accumulator, add, get_result, "
                f"merge); got {function!r}"
            )
            raise GraphError(msg)
        self._function = self.function = function
        self._create = function.create_accumulator
        self._add = function.add

    def add(self, contents: Any, value: Any) -> Any:
        """``contents`` with ``value`` added."""
        return self._add(value, self._create() if contents is ABSENT else contents)

    def merge(self, a: Any, b: Any) -> Any:
        """The contents of two merging windows."""
        return self._function.merge(a, b)

    def result(self, contents: Any) -> Any:
        """The window's result."""
        return self._function.get_result(contents)

    def functions(self) -> list[Any]:
        """The user functions inside."""
        return [self._function]


class ListContents(WindowContents):
    """Keeps every element (``process``/``apply`` without incremental aggregation, evictors)."""

    single = False

    def add(self, contents: Any, value: Any) -> Any:
        """``contents`` with ``value`` added."""
        if contents is ABSENT:
            return [value]
        contents.append(value)
        return contents

    def merge(self, a: Any, b: Any) -> Any:
        """The contents of two merging windows."""
        return [*a, *b]

    def result(self, contents: Any) -> Any:
        """The window's result."""
        return contents


def fold(contents: WindowContents, elements: Iterable[Any]) -> Any:
    """``elements`` accumulated as ``contents`` would have (an evicting window's result)."""
    acc = ABSENT
    for element in elements:
        acc = contents.add(acc, element)
    return acc


def internal_window_function(function: Any, *, keyed: bool = True) -> WindowFunctionCall:
    """A window function as ``call(key, context, elements, out)``, decided once.

    Accepts a ``ProcessWindowFunction`` (``ProcessAllWindowFunction`` when not ``keyed``), a
    ``WindowFunction`` (``AllWindowFunction``), or a callable taking what ``process`` takes.

    Raises:
        GraphError: ``function`` is none of these.
    """
    if keyed and isinstance(function, ProcessWindowFunction):
        return collector_form(function.process, 3)
    if keyed and isinstance(function, WindowFunction):
        apply = collector_form(function.apply, 3)
        return lambda key, ctx, elements, out: apply(key, ctx.window(), elements, out)
    if not keyed and isinstance(function, ProcessAllWindowFunction):
        process = collector_form(function.process, 2)
        return lambda key, ctx, elements, out: process(ctx, elements, out)
    if not keyed and isinstance(function, AllWindowFunction):
        apply_all = collector_form(function.apply, 2)
        return lambda key, ctx, elements, out: apply_all(ctx.window(), elements, out)
    if callable(function) and not isinstance(
        function,
        ProcessWindowFunction | WindowFunction | ProcessAllWindowFunction | AllWindowFunction,
    ):
        if keyed:
            return collector_form(function, 3)
        call = collector_form(function, 2)
        return lambda key, ctx, elements, out: call(ctx, elements, out)
    expected = (
        "a ProcessWindowFunction, a WindowFunction or a callable (key, context, elements)"
        if keyed
        else "a ProcessAllWindowFunction, an AllWindowFunction or a callable (context, elements)"
    )
    msg = f"the window function must be {expected}; got {function!r}"
    raise GraphError(msg)
