"""The function types users implement, PyFlink's names, the Python way.

Plain callables are accepted wherever a function object is (``map(lambda v: ...)``); subclass
these when a function needs ``open``/``close`` or state. A function object is copied for each
parallel subtask (Flink serializes one per subtask), so attributes set in ``open`` are per
subtask. State that must survive failures belongs in keyed state (``RuntimeContext.get_state``).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from streamrt.errors import GraphError
from streamrt.runtime.state import (
    AggregatingState,
    KeyedStateBackend,
    ListState,
    MapState,
    ReducingState,
    ValueState,
)
from streamrt.runtime.ttl_state import (
    TtlAggregatingState,
    TtlListState,
    TtlMapState,
    TtlReducingState,
    TtlSettings,
    TtlValueState,
)
from streamrt.state_descriptors import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateDescriptor,
    ValueStateDescriptor,
)

if TYPE_CHECKING:
    from streamrt.runtime.operator import OperatorContext
    from streamrt.runtime.output_tag import OutputTag
    from streamrt.runtime.outputs.output import Collector

__all__ = [
    "STATE_GETTERS",
    "AggregateFunction",
    "FilterFunction",
    "FlatMapFunction",
    "Function",
    "KeySelector",
    "KeyedProcessFunction",
    "MapFunction",
    "ProcessFunction",
    "ReduceFunction",
    "RuntimeContext",
    "TimeDomain",
    "TimerService",
    "function_callable",
]

IN = TypeVar("IN")
OUT = TypeVar("OUT")
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class RuntimeContext:
    """What a function learns in ``open``: where it runs, and (on keyed streams) its state."""

    def __init__(self, context: OperatorContext, backend: KeyedStateBackend | None) -> None:
        self._context = context
        self._backend = backend

    @property
    def task_name(self) -> str:
        """The operator's name."""
        return self._context.name

    @property
    def subtask_index(self) -> int:
        """This subtask's index, from 0."""
        return self._context.subtask_index

    @property
    def parallelism(self) -> int:
        """How many parallel subtasks the operator has."""
        return self._context.parallelism

    @property
    def max_parallelism(self) -> int:
        """The number of key groups."""
        return self._context.max_parallelism

    @property
    def job_name(self) -> str:
        """The job's name."""
        return self._context.job_name

    def _keyed_backend(self, what: str) -> KeyedStateBackend:
        if self._backend is None:
            msg = (
                f"{what} needs a keyed stream; operator {self._context.name!r} is not keyed "
                "(call key_by() before it)"
            )
            raise GraphError(msg)
        return self._backend

    def _ttl(self, descriptor: StateDescriptor) -> TtlSettings | None:
        config = descriptor.ttl_config
        return None if config is None else config.ttl_settings()

    def _descriptor(
        self, getter: str, descriptor: object, expected: type[StateDescriptor]
    ) -> tuple[KeyedStateBackend, Any]:
        """The backend and ``descriptor``, checked to be an ``expected`` descriptor."""
        backend = self._keyed_backend(f"{getter}()")
        if not isinstance(descriptor, expected):
            got = (
                f"{type(descriptor).__name__} {descriptor.name!r}"
                if isinstance(descriptor, StateDescriptor)
                else repr(descriptor)
            )
            msg = f"{getter}() needs a {expected.__name__}; got {got}"
            if isinstance(descriptor, StateDescriptor):
                msg += f" (use {STATE_GETTERS[type(descriptor).kind]}() for it)"
            raise GraphError(msg)
        return backend, descriptor

    @overload
    def get_state(self, state: ValueStateDescriptor) -> ValueState[Any]: ...
    @overload
    def get_state(self, state: str, default: T | None = None) -> ValueState[T]: ...
    def get_state(self, state: ValueStateDescriptor | str, default: Any = None) -> ValueState[Any]:
        """A value per key (Flink's ``ValueState``): by descriptor, or by name with a default.

        Raises:
            GraphError: the operator is not keyed, ``state`` is another kind of descriptor, or
                its name is a state of another kind.
        """
        if isinstance(state, str):
            return ValueState(self._keyed_backend("get_state()"), state, default)
        backend, descriptor = self._descriptor("get_state", state, ValueStateDescriptor)
        ttl = self._ttl(descriptor)
        if ttl is None:
            return ValueState(backend, descriptor.name)
        return TtlValueState(backend, descriptor.name, ttl, self._clock)

    def get_list_state(self, state: ListStateDescriptor | str) -> ListState[Any]:
        """A list per key (Flink's ``ListState``); TTL applies to each element.

        Raises:
            GraphError: as ``get_state``.
        """
        if isinstance(state, str):
            return ListState(self._keyed_backend("get_list_state()"), state)
        backend, descriptor = self._descriptor("get_list_state", state, ListStateDescriptor)
        ttl = self._ttl(descriptor)
        if ttl is None:
            return ListState(backend, descriptor.name)
        return TtlListState(backend, descriptor.name, ttl, self._clock)

    def get_map_state(self, state: MapStateDescriptor | str) -> MapState[Any, Any]:
        """A dict per key (Flink's ``MapState``); TTL applies to each entry.

        Raises:
            GraphError: as ``get_state``.
        """
        if isinstance(state, str):
            return MapState(self._keyed_backend("get_map_state()"), state)
        backend, descriptor = self._descriptor("get_map_state", state, MapStateDescriptor)
        ttl = self._ttl(descriptor)
        if ttl is None:
            return MapState(backend, descriptor.name)
        return TtlMapState(backend, descriptor.name, ttl, self._clock)

    def get_reducing_state(self, state: ReducingStateDescriptor) -> ReducingState[Any]:
        """A value per key folded by the descriptor's reduce function (Flink's ``ReducingState``).

        Raises:
            GraphError: as ``get_state``, or the reduce function is neither a
                ``ReduceFunction`` nor a callable.
        """
        backend, descriptor = self._descriptor("get_reducing_state", state, ReducingStateDescriptor)
        function = descriptor.reduce_function
        reduce = function_callable(function, ReduceFunction, "reduce")
        ttl = self._ttl(descriptor)
        if ttl is None:
            return ReducingState(backend, descriptor.name, reduce)
        return TtlReducingState(backend, descriptor.name, ttl, self._clock, reduce)

    def get_aggregating_state(
        self, state: AggregatingStateDescriptor
    ) -> AggregatingState[Any, Any]:
        """An accumulator per key fed by the descriptor's ``AggregateFunction``.

        Raises:
            GraphError: as ``get_state``, or ``agg_function`` is not an ``AggregateFunction``.
        """
        backend, descriptor = self._descriptor(
            "get_aggregating_state", state, AggregatingStateDescriptor
        )
        function = descriptor.agg_function
        if not isinstance(function, AggregateFunction):
            msg = (
                f"AggregatingStateDescriptor {descriptor.name!r} needs an AggregateFunction "
                f"(create_accumulator, add, get_result); got {function!r}"
            )
            raise GraphError(msg)
        ttl = self._ttl(descriptor)
        if ttl is None:
            return AggregatingState(backend, descriptor.name, function)
        return TtlAggregatingState(backend, descriptor.name, ttl, self._clock, function)

    @property
    def _clock(self) -> Callable[[], int]:
        return self._context.processing_time.current_processing_time


#: which RuntimeContext getter serves which kind of descriptor (by ``descriptor.kind``)
STATE_GETTERS = {
    "value": "get_state",
    "list": "get_list_state",
    "map": "get_map_state",
    "reducing": "get_reducing_state",
    "aggregating": "get_aggregating_state",
}


class Function:
    """Base of every function type: optional ``open``/``close`` hooks."""

    def open(self, runtime_context: RuntimeContext) -> None:
        """Called once per subtask before the first record."""

    def close(self) -> None:
        """Called once per subtask at the end, also after a failure."""


class MapFunction(Function, ABC, Generic[IN, OUT]):
    """One value in, one value out."""

    @abstractmethod
    def map(self, value: IN) -> OUT:
        """Transform ``value``."""


class FlatMapFunction(Function, ABC, Generic[IN, OUT]):
    """One value in, any number out."""

    @abstractmethod
    def flat_map(self, value: IN) -> Iterable[OUT]:
        """Return (or yield) the values ``value`` becomes."""


class FilterFunction(Function, ABC, Generic[T]):
    """Keeps the values for which ``filter`` is true."""

    @abstractmethod
    def filter(self, value: T) -> bool:
        """Whether to keep ``value``."""


class ReduceFunction(Function, ABC, Generic[T]):
    """Combines two values of the same key into one."""

    @abstractmethod
    def reduce(self, value1: T, value2: T) -> T:
        """Combine the accumulated ``value1`` with the new ``value2``."""


ACC = TypeVar("ACC")


class AggregateFunction(Function, ABC, Generic[IN, ACC, OUT]):
    """An incremental aggregation with an accumulator (Flink's ``AggregateFunction``).

    Used by ``window(...).aggregate`` and ``AggregatingStateDescriptor``; ``merge`` combines the
    accumulators of merging (session) windows.
    """

    @abstractmethod
    def create_accumulator(self) -> ACC:
        """A new, empty accumulator."""

    @abstractmethod
    def add(self, value: IN, accumulator: ACC) -> ACC:
        """Add ``value``; return the updated accumulator (it may be the same object)."""

    @abstractmethod
    def get_result(self, accumulator: ACC) -> OUT:
        """The aggregate of what ``accumulator`` holds."""

    def merge(self, acc_a: ACC, acc_b: ACC) -> ACC:
        """Combine two accumulators (needed only by merging windows)."""
        msg = f"{type(self).__name__} does not implement merge(), which merging windows need"
        raise NotImplementedError(msg)


class KeySelector(Function, ABC, Generic[T, K]):
    """Extracts the key of a value."""

    @abstractmethod
    def get_key(self, value: T) -> K:
        """The key of ``value``."""


class TimeDomain(enum.Enum):
    """Which clock fired a timer (``OnTimerContext.time_domain()``), as in Flink."""

    EVENT_TIME = 0
    PROCESSING_TIME = 1


class TimerService(Protocol):
    """Time and timers as a process function sees them."""

    def current_processing_time(self) -> int:
        """Wall-clock time, epoch ms."""
        ...

    def current_watermark(self) -> int:
        """The operator's current event time (the last watermark it received)."""
        ...

    def register_event_time_timer(self, timestamp: int) -> None:
        """Call ``on_timer`` for the current key when the watermark reaches ``timestamp``."""
        ...

    def register_processing_time_timer(self, timestamp: int) -> None:
        """Call ``on_timer`` for the current key when wall-clock time reaches ``timestamp``."""
        ...

    def delete_event_time_timer(self, timestamp: int) -> None:
        """Forget an event-time timer of the current key."""
        ...

    def delete_processing_time_timer(self, timestamp: int) -> None:
        """Forget a processing-time timer of the current key."""
        ...


class ProcessFunction(Function, ABC, Generic[IN, OUT]):
    """The most general function: values, timestamps, timers, side outputs."""

    class Context(Protocol):
        """Per-element context."""

        def timestamp(self) -> int | None:
            """The element's timestamp (or the firing timer's), ``None`` when it has none."""
            ...

        def timer_service(self) -> TimerService:
            """Time and (on keyed streams) timers."""
            ...

        def output(self, tag: OutputTag[Any], value: Any) -> None:
            """Emit ``value`` to the side output ``tag``."""
            ...

        def get_current_key(self) -> Any:
            """The key of the element (keyed streams only)."""
            ...

    class OnTimerContext(Context, Protocol):
        """The context of ``on_timer``: also the firing timer's time domain."""

        def time_domain(self) -> TimeDomain:
            """``TimeDomain.EVENT_TIME`` or ``TimeDomain.PROCESSING_TIME``."""
            ...

    @abstractmethod
    def process_element(self, value: IN, ctx: ProcessFunction.Context, out: Collector[OUT]) -> None:
        """Handle one value; emit with ``out.collect(v)`` and ``ctx.output(tag, v)``."""

    def on_timer(
        self, timestamp: int, ctx: ProcessFunction.OnTimerContext, out: Collector[OUT]
    ) -> None:
        """A timer registered for ``ctx.get_current_key()`` fired at ``timestamp``."""


class KeyedProcessFunction(ProcessFunction[IN, OUT], ABC):
    """A ``ProcessFunction`` on a keyed stream (PyFlink's name; the same contract here)."""


def function_callable(function: Any, kind: type[Function], method: str) -> Callable[..., Any]:
    """The callable behind a user function: ``function.<method>`` for a ``kind``, else itself.

    Decided once, when the operator is built, so the record path calls it directly.

    Raises:
        GraphError: ``function`` is neither a ``kind`` nor callable.
    """
    if isinstance(function, kind):
        bound: Callable[..., Any] = getattr(function, method)
        return bound
    if callable(function):
        return function  # type: ignore[no-any-return]
    msg = f"{method}() needs a {kind.__name__} or a callable; got {function!r}"
    raise GraphError(msg)
