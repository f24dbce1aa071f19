"""The function types of windows and window joins, PyFlink's names, the Python way.

``ProcessWindowFunction.process`` is written in either of two forms, decided once from its
signature: PyFlink's ``process(key, context, elements)`` returning (or yielding) the results,
or ours, ``process(key, context, elements, out)`` emitting with ``out.collect(v)``. Items of
the form ``(output_tag, value)`` in PyFlink's form go to that side output. ``WindowFunction.
apply`` likewise: ``apply(key, window, inputs)`` or ``apply(key, window, inputs, out)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from streamrt.functions import Function

if TYPE_CHECKING:
    from streamrt.runtime.output_tag import OutputTag
    from streamrt.state_descriptors import StateDescriptor

__all__ = [
    "AllWindowFunction",
    "CoGroupFunction",
    "JoinFunction",
    "KeyedStateStore",
    "ProcessAllWindowFunction",
    "ProcessWindowFunction",
    "WindowFunction",
]

IN = TypeVar("IN")
IN1 = TypeVar("IN1")
IN2 = TypeVar("IN2")
OUT = TypeVar("OUT")
KEY = TypeVar("KEY")
W = TypeVar("W")
W_co = TypeVar("W_co", covariant=True)


class KeyedStateStore(Protocol):
    """State scoped to the current key (and, for ``window_state()``, the current window)."""

    def get_state(self, state_descriptor: StateDescriptor) -> Any:
        """A ``ValueState``: ``value()``, ``update(v)``, ``clear()``."""
        ...

    def get_list_state(self, state_descriptor: StateDescriptor) -> Any:
        """A ``ListState``: ``get()``, ``add(v)``, ``add_all(vs)``, ``update(vs)``, ``clear()``."""
        ...

    def get_map_state(self, state_descriptor: StateDescriptor) -> Any:
        """A ``MapState``: ``get(k)``, ``put(k, v)``, ``contains(k)``, ``items()``, ..."""
        ...

    def get_reducing_state(self, state_descriptor: StateDescriptor) -> Any:
        """A ``ReducingState``: ``get()``, ``add(v)``, ``clear()``."""
        ...

    def get_aggregating_state(self, state_descriptor: StateDescriptor) -> Any:
        """An ``AggregatingState``: ``get()``, ``add(v)``, ``clear()``."""
        ...


class ProcessWindowFunction(Function, ABC, Generic[IN, OUT, KEY, W]):
    """Sees all elements of a window at once, with the window's metadata and state."""

    class Context(Protocol[W_co]):
        """The ``context`` argument of ``process`` (``Context[TimeWindow]`` in annotations)."""

        def window(self) -> W_co:
            """The window being evaluated."""
            ...

        def current_processing_time(self) -> int:
            """Wall-clock time, epoch ms."""
            ...

        def current_watermark(self) -> int:
            """The operator's current event time."""
            ...

        def window_state(self) -> KeyedStateStore:
            """State of this key and window (cleared with the window)."""
            ...

        def global_state(self) -> KeyedStateStore:
            """State of this key, across its windows."""
            ...

        def output(self, output_tag: OutputTag[Any], value: Any) -> None:
            """Emit ``value`` to the side output ``output_tag``."""
            ...

    @abstractmethod
    def process(
        self, key: KEY, context: ProcessWindowFunction.Context[W], elements: Iterable[IN]
    ) -> Iterable[OUT] | None:
        """The results for one window (PyFlink's form; see the module docstring)."""

    def clear(self, context: ProcessWindowFunction.Context[W]) -> None:
        """The window is gone: clear what ``process`` kept in ``window_state()``."""


class ProcessAllWindowFunction(Function, ABC, Generic[IN, OUT, W]):
    """``ProcessWindowFunction`` of ``window_all``: no key."""

    @abstractmethod
    def process(
        self, context: ProcessWindowFunction.Context[W], elements: Iterable[IN]
    ) -> Iterable[OUT] | None:
        """The results for one window (or ``process(context, elements, out)``)."""

    def clear(self, context: ProcessWindowFunction.Context[W]) -> None:
        """The window is gone: clear what ``process`` kept in ``window_state()``."""


class WindowFunction(Function, ABC, Generic[IN, OUT, KEY, W]):
    """The older window function: key, window and elements, no state."""

    @abstractmethod
    def apply(self, key: KEY, window: W, inputs: Iterable[IN]) -> Iterable[OUT] | None:
        """The results for one window (or ``apply(key, window, inputs, out)``)."""


class AllWindowFunction(Function, ABC, Generic[IN, OUT, W]):
    """``WindowFunction`` of ``window_all``: no key."""

    @abstractmethod
    def apply(self, window: W, inputs: Iterable[IN]) -> Iterable[OUT] | None:
        """The results for one window (or ``apply(window, inputs, out)``)."""


class JoinFunction(Function, ABC, Generic[IN1, IN2, OUT]):
    """Combines one pair of a window join (every pair with equal keys in a window)."""

    @abstractmethod
    def join(self, first: IN1, second: IN2) -> OUT:
        """The result of joining ``first`` with ``second``."""


class CoGroupFunction(Function, ABC, Generic[IN1, IN2, OUT]):
    """Sees both sides' elements of one key and window (either side may be empty)."""

    @abstractmethod
    def co_group(self, first: Iterable[IN1], second: Iterable[IN2]) -> Iterable[OUT] | None:
        """The results for one key and window (or ``co_group(first, second, out)``)."""
