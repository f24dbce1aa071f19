"""Port of Flink's ``CoBroadcastWithNonKeyedOperator`` and ``CoBroadcastWithKeyedOperator``.

Input 1 is the (possibly keyed) stream, input 2 the broadcast stream. Broadcast state is one
dict per ``MapStateDescriptor`` given to ``broadcast()``: operator state, a full copy on every
subtask. ``process_broadcast_element`` gets it writable, ``process_element`` (and ``on_timer``)
read-only. On a keyed stream the operator also has keyed state and timers; on the broadcast
side there is no current key, and ``ctx.apply_to_keyed_state`` visits every key's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from operators.co_process import two_input_timer_service
from operators.function_forms import collector_form
from operators.process import ProcessCallable
from operators.process_context import ProcessContext
from operators.two_input import AbstractTwoInputStreamOperator
from streamrt.errors import GraphError
from streamrt.functions import STATE_GETTERS, RuntimeContext, TimerService
from streamrt.runtime.broadcast_state import BroadcastState, ReadOnlyBroadcastState
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext, raise_operator_failure
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.outputs.timestamped import TimestampedCollector
from streamrt.state_descriptors import MapStateDescriptor

__all__ = ["BROADCAST_STATE", "CoBroadcastProcessOperator"]

OUT = TypeVar("OUT")

#: the key of broadcast state in the operator's ``state_dict()`` (replicated on restore)
BROADCAST_STATE = "broadcast"


class _Context(ProcessContext):
    """The ``ctx`` of both methods and ``on_timer``: read-only or writable broadcast state."""

    __slots__ = ("_broadcast_side", "_states")

    def __init__(
        self,
        operator: CoBroadcastProcessOperator[Any],
        collector: TimestampedCollector[Any],
        states: dict[str, ReadOnlyBroadcastState[Any, Any]],
        *,
        broadcast_side: bool,
    ) -> None:
        super().__init__(operator, collector, two_input_timer_service(operator))
        self._states = states
        self._broadcast_side = broadcast_side

    def current_processing_time(self) -> int:
        return self._operator.context.processing_time.current_processing_time()

    def current_watermark(self) -> int:
        return self._operator.current_watermark

    def timer_service(self) -> TimerService:
        if self._broadcast_side:  # a broadcast element has no key to set a timer for
            msg = (
                f"operator {self._operator.context.name!r}: process_broadcast_element has no "
                "timer service (there is no current key); register timers in process_element"
            )
            raise GraphError(msg)
        return super().timer_service()

    def get_broadcast_state(self, descriptor: MapStateDescriptor) -> Any:
        name = descriptor.name if isinstance(descriptor, MapStateDescriptor) else descriptor
        state = self._states.get(name)
        if state is None:
            msg = (
                f"operator {self._operator.context.name!r} has no broadcast state {name!r}; "
                f"broadcast() was given {sorted(self._states)}"
            )
            raise GraphError(msg)
        return state

    def apply_to_keyed_state(
        self, state_descriptor: Any, function: Callable[[Any, Any], None]
    ) -> None:
        """Call ``function(key, state)`` for every key that has state ``state_descriptor``."""
        backend = self._operator.state_backend
        if backend is None:
            msg = (
                f"apply_to_keyed_state needs a keyed stream; {self._operator.context.name!r} is not"
            )
            raise GraphError(msg)
        getter = STATE_GETTERS.get(getattr(state_descriptor, "kind", ""))
        if getter is None:
            msg = f"apply_to_keyed_state needs a state descriptor; got {state_descriptor!r}"
            raise GraphError(msg)
        state = getattr(RuntimeContext(self._operator.context, backend), getter)(state_descriptor)
        try:
            for key in backend.keys_of(state_descriptor.name):
                backend.current_key = key
                function(key, state)
        finally:
            backend.current_key = None


class CoBroadcastProcessOperator(AbstractTwoInputStreamOperator[OUT, Any]):
    """Runs a ``(Keyed)BroadcastProcessFunction``.

    Args:
        function: the user function.
        descriptors: the broadcast states (``MapStateDescriptor``s given to ``broadcast()``).
    """

    def __init__(self, function: Any, descriptors: tuple[MapStateDescriptor, ...]) -> None:
        super().__init__(function)
        self._process: ProcessCallable = collector_form(function.process_element, 2)
        self._process_broadcast: ProcessCallable = collector_form(
            function.process_broadcast_element, 2
        )
        on_timer = getattr(function, "on_timer", None)
        self._on_timer: ProcessCallable | None = (
            collector_form(on_timer, 2) if on_timer is not None else None
        )
        #: the live broadcast state, one dict per descriptor name (views stay bound to them)
        self.broadcast_state: dict[str, dict[Any, Any]] = {d.name: {} for d in descriptors}

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Build the collector and the two contexts; keyed streams get a timer service."""
        super().setup(context, output)
        self._collector: TimestampedCollector[OUT] = TimestampedCollector(output)
        read_only = {n: ReadOnlyBroadcastState(m) for n, m in self.broadcast_state.items()}
        writable: dict[str, ReadOnlyBroadcastState[Any, Any]] = {
            n: BroadcastState(m) for n, m in self.broadcast_state.items()
        }
        self._read_ctx = _Context(self, self._collector, dict(read_only), broadcast_side=False)
        self._write_ctx = _Context(self, self._collector, writable, broadcast_side=True)
        self._key = context.key_selector
        if self._key is not None:
            self.create_timer_service()

    def process_element1(self, record: StreamRecord[Any]) -> None:
        """A value of the (keyed) stream: ``process_element`` with read-only broadcast state."""
        if self._key is not None:
            self.state_backend.current_key = self._key(record.value)  # type: ignore[union-attr]
        self._collector.timestamp = self._read_ctx.ts = record.timestamp
        try:
            self._process(record.value, self._read_ctx, self._collector)
        except Exception as exc:  # downstream OperatorErrors pass through
            self.on_user_error(exc, record)

    def process_element2(self, record: StreamRecord[Any]) -> None:
        """A broadcast value: ``process_broadcast_element`` with writable broadcast state."""
        if self.state_backend is not None:
            self.state_backend.current_key = None  # no key on the broadcast side
        self._collector.timestamp = self._write_ctx.ts = record.timestamp
        try:
            self._process_broadcast(record.value, self._write_ctx, self._collector)
        except Exception as exc:  # downstream OperatorErrors pass through
            self.on_user_error(exc, record)

    def on_event_time(self, timestamp: int, key: Any) -> None:
        """An event-time timer fired: ``on_timer`` with the timer's timestamp."""
        if self._on_timer is not None:
            self._collector.timestamp = self._read_ctx.ts = timestamp
            self._on_timer(timestamp, self._read_ctx, self._collector)

    def on_processing_time(self, timestamp: int, key: Any) -> None:
        """A processing-time timer fired: ``on_timer``; emits carry no event timestamp."""
        if self._on_timer is None:
            return
        self._collector.timestamp = None
        self._read_ctx.ts = timestamp
        try:  # runs as a task mail, outside any chained call that would name the operator
            self._on_timer(timestamp, self._read_ctx, self._collector)
        except Exception as exc:
            raise_operator_failure(self.context, exc, " in on_timer")

    # -- state: keyed state and timers as any keyed operator, plus the broadcast state ---------
    def state_dict(self) -> dict[str, Any]:
        """Keyed state, timers and a copy of the broadcast state."""
        state = super().state_dict()
        state[BROADCAST_STATE] = {n: dict(m) for n, m in self.broadcast_state.items()}
        return state

    def snapshot_state(self) -> dict[str, Any]:
        """``state_dict()`` sharing the live broadcast dicts (encoded at once)."""
        state = super().snapshot_state()
        state[BROADCAST_STATE] = self.broadcast_state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore keyed state, timers and the broadcast state (in place: views stay bound)."""
        super().load_state_dict(state)
        for name, entries in state.get(BROADCAST_STATE, {}).items():
            # a state no descriptor names any more is kept (and checkpointed) unread, as Flink
            live = self.broadcast_state.setdefault(name, {})
            live.clear()
            live.update(entries)
