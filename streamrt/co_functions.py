"""The function types of connected streams, broadcast state and the interval join.

PyFlink's names, the Python way. A two-input function sees the values of each input through
its own method (``map1``/``map2``, ``process_element1``/``process_element2``). Methods taking a
context and a collector may instead be written in PyFlink's form, without ``out``, yielding
their results (``yield value``, ``yield output_tag, value``): the form is decided once per
method when the operator is built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from streamrt.functions import Function, TimerService

if TYPE_CHECKING:
    from streamrt.runtime.broadcast_state import BroadcastState, ReadOnlyBroadcastState
    from streamrt.runtime.output_tag import OutputTag
    from streamrt.runtime.outputs.output import Collector

__all__ = [
    "BroadcastProcessFunction",
    "CoFlatMapFunction",
    "CoMapFunction",
    "CoProcessFunction",
    "KeyedBroadcastProcessFunction",
    "KeyedCoProcessFunction",
    "ProcessJoinFunction",
]

IN1 = TypeVar("IN1")
IN2 = TypeVar("IN2")
OUT = TypeVar("OUT")


class CoMapFunction(Function, ABC, Generic[IN1, IN2, OUT]):
    """One value in, one value out, with a method per input (``ConnectedStreams.map``)."""

    @abstractmethod
    def map1(self, value: IN1) -> OUT:
        """Transform a value of the first input."""

    @abstractmethod
    def map2(self, value: IN2) -> OUT:
        """Transform a value of the second input."""


class CoFlatMapFunction(Function, ABC, Generic[IN1, IN2, OUT]):
    """One value in, any number out, with a method per input (``ConnectedStreams.flat_map``)."""

    @abstractmethod
    def flat_map1(self, value: IN1) -> Iterable[OUT]:
        """Return (or yield) the values a value of the first input becomes."""

    @abstractmethod
    def flat_map2(self, value: IN2) -> Iterable[OUT]:
        """Return (or yield) the values a value of the second input becomes."""


class CoProcessFunction(Function, ABC, Generic[IN1, IN2, OUT]):
    """The general two-input function: values, timestamps, side outputs (timers when keyed)."""

    class Context(Protocol):
        """Per-element context."""

        def timestamp(self) -> int | None:
            """The element's timestamp (or the firing timer's), ``None`` when it has none."""
            ...

        def timer_service(self) -> TimerService:
            """Time and (on keyed connected streams) timers."""
            ...

        def output(self, tag: OutputTag[Any], value: Any) -> None:
            """Emit ``value`` to the side output ``tag``."""
            ...

        def get_current_key(self) -> Any:
            """The key of the element or timer (keyed connected streams only)."""
            ...

    @abstractmethod
    def process_element1(
        self, value: IN1, ctx: CoProcessFunction.Context, out: Collector[OUT]
    ) -> None:
        """Handle a value of the first input."""

    @abstractmethod
    def process_element2(
        self, value: IN2, ctx: CoProcessFunction.Context, out: Collector[OUT]
    ) -> None:
        """Handle a value of the second input."""

    def on_timer(self, timestamp: int, ctx: CoProcessFunction.Context, out: Collector[OUT]) -> None:
        """A timer registered for ``ctx.get_current_key()`` fired at ``timestamp``."""


class KeyedCoProcessFunction(CoProcessFunction[IN1, IN2, OUT], ABC):
    """A ``CoProcessFunction`` on keyed connected streams: both inputs share keyed state."""


class ProcessJoinFunction(Function, ABC, Generic[IN1, IN2, OUT]):
    """Called for each pair the interval join finds (``IntervalJoined.process``)."""

    class Context(Protocol):
        """The pair's timestamps; results carry ``get_timestamp()``, the larger of the two."""

        def get_left_timestamp(self) -> int:
            """The left element's timestamp."""
            ...

        def get_right_timestamp(self) -> int:
            """The right element's timestamp."""
            ...

        def get_timestamp(self) -> int:
            """The result's timestamp: ``max(left, right)``."""
            ...

        def output(self, tag: OutputTag[Any], value: Any) -> None:
            """Emit ``value`` to the side output ``tag``."""
            ...

    @abstractmethod
    def process_element(
        self, left: IN1, right: IN2, ctx: ProcessJoinFunction.Context, out: Collector[OUT]
    ) -> None:
        """Handle one joined pair."""


class BroadcastProcessFunction(Function, ABC, Generic[IN1, IN2, OUT]):
    """Connects a stream with a broadcast stream whose elements update broadcast state.

    The broadcast side (``process_broadcast_element``) may write broadcast state; the other
    side reads it. Every subtask receives every broadcast element, so updating the state the
    same way everywhere keeps the copies equal (the function must not make it depend on the
    subtask or on the non-broadcast side).
    """

    class ReadOnlyContext(Protocol):
        """The context of ``process_element``: broadcast state is read-only here."""

        def timestamp(self) -> int | None:
            """The element's timestamp, ``None`` when it has none."""
            ...

        def current_processing_time(self) -> int:
            """Wall-clock time, epoch ms."""
            ...

        def current_watermark(self) -> int:
            """The operator's current event time."""
            ...

        def get_broadcast_state(self, descriptor: Any) -> ReadOnlyBroadcastState[Any, Any]:
            """The broadcast state of ``descriptor`` (a ``MapStateDescriptor``), read-only."""
            ...

        def output(self, tag: OutputTag[Any], value: Any) -> None:
            """Emit ``value`` to the side output ``tag``."""
            ...

    class Context(ReadOnlyContext, Protocol):
        """The context of ``process_broadcast_element``: broadcast state is writable."""

        def get_broadcast_state(self, descriptor: Any) -> BroadcastState[Any, Any]:
            """The broadcast state of ``descriptor``, writable."""
            ...

    @abstractmethod
    def process_element(
        self, value: IN1, ctx: BroadcastProcessFunction.ReadOnlyContext, out: Collector[OUT]
    ) -> None:
        """Handle a value of the non-broadcast input."""

    @abstractmethod
    def process_broadcast_element(
        self, value: IN2, ctx: BroadcastProcessFunction.Context, out: Collector[OUT]
    ) -> None:
        """Handle a value of the broadcast input."""


class KeyedBroadcastProcessFunction(Function, ABC, Generic[IN1, IN2, OUT]):
    """``BroadcastProcessFunction`` on a keyed stream: keyed state and timers too."""

    class ReadOnlyContext(BroadcastProcessFunction.ReadOnlyContext, Protocol):
        """The context of ``process_element`` and ``on_timer``."""

        def timer_service(self) -> TimerService:
            """Time and timers of the current key."""
            ...

        def get_current_key(self) -> Any:
            """The key of the element or timer."""
            ...

    class Context(BroadcastProcessFunction.Context, Protocol):
        """The context of ``process_broadcast_element``."""

        def apply_to_keyed_state(
            self, state_descriptor: Any, function: Callable[[Any, Any], None]
        ) -> None:
            """Call ``function(key, state)`` for every key with state ``state_descriptor``."""
            ...

    @abstractmethod
    def process_element(
        self, value: IN1, ctx: KeyedBroadcastProcessFunction.ReadOnlyContext, out: Collector[OUT]
    ) -> None:
        """Handle a value of the keyed input."""

    @abstractmethod
    def process_broadcast_element(
        self, value: IN2, ctx: KeyedBroadcastProcessFunction.Context, out: Collector[OUT]
    ) -> None:
        """Handle a value of the broadcast input."""

    def on_timer(
        self,
        timestamp: int,
        ctx: KeyedBroadcastProcessFunction.ReadOnlyContext,
        out: Collector[OUT],
    ) -> None:
        """A timer registered for ``ctx.get_current_key()`` fired at ``timestamp``."""
