"""The function types users implement, PyFlink's names, the Python way.

Plain callables are accepted wherever a function object is (``map(lambda v: ...)``); subclass
these when a function needs ``open``/``close`` or state. A function object is copied for each
parallel subtask (Flink serializes one per subtask), so attributes set in ``open`` are per
subtask. State that must survive failures belongs in keyed state (``RuntimeContext.get_state``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from streamrt.errors import GraphError
from streamrt.runtime.state import KeyedStateBackend, ListState, MapState, ValueState

if TYPE_CHECKING:
    from streamrt.runtime.operator import OperatorContext
    from streamrt.runtime.output_tag import OutputTag
    from streamrt.runtime.outputs.output import Collector

__all__ = [
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

    def get_state(self, name: str, default: T | None = None) -> ValueState[T]:
        """A value per key (Flink's ``ValueState``)."""
        return ValueState(self._keyed_backend("get_state"), name, default)

    def get_list_state(self, name: str) -> ListState[T]:
        """A list per key (Flink's ``ListState``)."""
        return ListState(self._keyed_backend("get_list_state"), name)

    def get_map_state(self, name: str) -> MapState[K, V]:
        """A dict per key (Flink's ``MapState``)."""
        return MapState(self._keyed_backend("get_map_state"), name)


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

    @abstractmethod
    def process_element(self, value: IN, ctx: ProcessFunction.Context, out: Collector[OUT]) -> None:
        """Handle one value; emit with ``out.collect(v)`` and ``ctx.output(tag, v)``."""

    def on_timer(self, timestamp: int, ctx: ProcessFunction.Context, out: Collector[OUT]) -> None:
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
