"""Two-input streams: connected streams, broadcast state and the interval join.

PyFlink's ``ConnectedStreams``, ``BroadcastStream``, ``BroadcastConnectedStream`` and
``IntervalJoin``/``IntervalJoined``, the Python way. Each builds one two-input operator node
whose in-edges say which input they feed (1 or 2); the node always heads its chain. Keyed
inputs are partitioned by key group with the operator's max parallelism, so equal keys of both
inputs reach the same subtask and share its keyed state and timers. ``output_type`` is accepted
where PyFlink takes it (so PyFlink code runs unchanged) and unused: values are Python objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import operators as ops
from streamrt.co_functions import (
    BroadcastProcessFunction,
    CoFlatMapFunction,
    CoMapFunction,
    CoProcessFunction,
    KeyedBroadcastProcessFunction,
    KeyedCoProcessFunction,
    ProcessJoinFunction,
)
from streamrt.datastream import DataStream, KeyedStream, _Input, _per_subtask
from streamrt.errors import GraphError
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.partitioners import BroadcastPartitioner
from streamrt.runtime.stream_graph import NodeKind
from streamrt.state_descriptors import MapStateDescriptor

if TYPE_CHECKING:
    from streamrt.runtime.operator import StreamOperator

__all__ = [
    "BroadcastConnectedStream",
    "BroadcastStream",
    "ConnectedStreams",
    "IntervalJoin",
    "IntervalJoined",
]

IN1 = TypeVar("IN1")
IN2 = TypeVar("IN2")
OUT = TypeVar("OUT")


def _two_input_stream(
    name: str,
    first: DataStream[Any],
    second: DataStream[Any],
    factory: Callable[[], StreamOperator[Any]],
    key_selector1: Callable[[Any], Any] | None = None,
    key_selector2: Callable[[Any], Any] | None = None,
) -> DataStream[Any]:
    """Add a two-input node fed by ``first`` (input 1) and ``second`` (input 2)."""
    env = first._env  # noqa: SLF001  (the API's own classes)
    graph = env.stream_graph
    inputs = ((1, first._inputs), (2, second._inputs))  # noqa: SLF001
    if any(i.node_id not in graph.nodes for _, stream in inputs for i in stream):
        msg = (
            f"cannot add {name!r}: an input belongs to a pipeline that was already executed; "
            "build the pipeline again, from its sources, before executing again"
        )
        raise GraphError(msg)
    node = env.add_node(name, NodeKind.OPERATOR, factory, key_selector=key_selector1)
    node.key_selector2 = key_selector2
    node.two_inputs = True
    for number, stream_inputs in inputs:
        for source in stream_inputs:
            graph.add_edge(
                source.node_id,
                node.node_id,
                source.partitioner,
                source.tag,
                source.channel,
                type_number=number,
            )
    return DataStream(env, (_Input(node.node_id),), node)


def _same_environment(first: DataStream[Any], second: Any, method: str) -> None:
    if not isinstance(second, DataStream) or second._env is not first._env:  # noqa: SLF001
        msg = f"{method}() takes a DataStream of the same environment; got {second!r}"
        raise GraphError(msg)


def _key_selector(stream: DataStream[Any]) -> Callable[[Any], Any] | None:
    return stream._key_selector()  # noqa: SLF001


class ConnectedStreams(Generic[IN1, IN2]):
    """Two streams, possibly of different types, processed by one two-input operator.

    Made by ``first.connect(second)``. Keyed when both inputs are keyed streams (or after
    ``key_by(key_selector1, key_selector2)``): then the operator has keyed state and timers
    shared by both inputs.
    """

    def __init__(self, first: DataStream[IN1], second: DataStream[IN2]) -> None:
        _same_environment(first, second, "connect")
        self.first = first
        self.second = second

    def _keys(self) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
        key1, key2 = _key_selector(self.first), _key_selector(self.second)
        if (key1 is None) != (key2 is None):
            return None, None  # one keyed input alone does not make keyed connected streams
        return key1, key2

    @property
    def is_keyed(self) -> bool:
        """Whether both inputs are keyed."""
        return self._keys()[0] is not None

    def key_by(self, key_selector1: Any, key_selector2: Any) -> ConnectedStreams[IN1, IN2]:
        """Key both inputs: equal keys of either input share state, timers and a subtask."""
        return ConnectedStreams(self.first.key_by(key_selector1), self.second.key_by(key_selector2))

    def map(self, func: CoMapFunction[IN1, IN2, OUT], output_type: Any = None) -> DataStream[OUT]:
        """``map1`` on the first input's values, ``map2`` on the second's, into one stream."""
        ops.CoMapOperator(func)  # validates the function now, at build time
        make = _per_subtask(func, "Co-Map")
        return _two_input_stream(
            "Co-Map", self.first, self.second, lambda: ops.CoMapOperator(make()), *self._keys()
        )

    def flat_map(
        self, func: CoFlatMapFunction[IN1, IN2, OUT], output_type: Any = None
    ) -> DataStream[OUT]:
        """``flat_map1``/``flat_map2``: each value becomes any number of values."""
        ops.CoFlatMapOperator(func)
        make = _per_subtask(func, "Co-Flat Map")
        return _two_input_stream(
            "Co-Flat Map",
            self.first,
            self.second,
            lambda: ops.CoFlatMapOperator(make()),
            *self._keys(),
        )

    def process(
        self, func: CoProcessFunction[IN1, IN2, OUT], output_type: Any = None
    ) -> DataStream[OUT]:
        """Call ``process_element1``/``process_element2`` per value (timers when keyed).

        Raises:
            GraphError: a ``KeyedCoProcessFunction`` on inputs that are not both keyed.
        """
        ops.CoProcessOperator(func)
        key1, key2 = self._keys()
        if isinstance(func, KeyedCoProcessFunction) and key1 is None:
            msg = (
                "a KeyedCoProcessFunction needs keyed connected streams: key both inputs "
                "(connect(...).key_by(key_selector1, key_selector2) or connect two KeyedStreams)"
            )
            raise GraphError(msg)
        name = "Keyed Co-Process" if key1 is not None else "Co-Process"
        make = _per_subtask(func, name)
        return _two_input_stream(
            name, self.first, self.second, lambda: ops.CoProcessOperator(make()), key1, key2
        )


class BroadcastStream(Generic[IN2]):
    """A stream sent to every subtask, with the broadcast state it maintains.

    Made by ``stream.broadcast(descriptor, ...)``; use it as the second input of
    ``connect()``. The descriptors name the broadcast states (``MapStateDescriptor``) the
    broadcast side writes and the other side reads.
    """

    def __init__(
        self, stream: DataStream[IN2], descriptors: tuple[MapStateDescriptor, ...]
    ) -> None:
        for descriptor in descriptors:
            if not isinstance(descriptor, MapStateDescriptor):
                msg = (
                    "broadcast() takes MapStateDescriptors (broadcast state is a map); "
                    f"got {descriptor!r}"
                )
                raise GraphError(msg)
        names = [d.name for d in descriptors]
        if len(set(names)) != len(names):
            msg = f"broadcast() got two descriptors with the same name: {names}"
            raise GraphError(msg)
        self.stream = stream._partition(BroadcastPartitioner())  # noqa: SLF001
        self.descriptors = descriptors


class BroadcastConnectedStream(Generic[IN1, IN2]):
    """A stream connected with a ``BroadcastStream`` (Flink's broadcast state pattern)."""

    def __init__(self, stream: DataStream[IN1], broadcast: BroadcastStream[IN2]) -> None:
        _same_environment(stream, broadcast.stream, "connect")
        self.stream = stream
        self.broadcast = broadcast

    def process(
        self,
        func: BroadcastProcessFunction[IN1, IN2, OUT]
        | KeyedBroadcastProcessFunction[IN1, IN2, OUT],
        output_type: Any = None,
    ) -> DataStream[OUT]:
        """Run ``func``: ``process_element`` per value, ``process_broadcast_element`` per rule.

        Raises:
            GraphError: a ``KeyedBroadcastProcessFunction`` on a non-keyed stream, or a
                ``BroadcastProcessFunction`` on a keyed one (as in Flink).
        """
        key = _key_selector(self.stream)
        descriptors = self.broadcast.descriptors
        if isinstance(func, KeyedBroadcastProcessFunction):
            if key is None:
                msg = "a KeyedBroadcastProcessFunction can only be used on a keyed stream"
                raise GraphError(msg)
            name = "Co-Process-Broadcast-Keyed"
        elif isinstance(func, BroadcastProcessFunction):
            if key is not None:
                msg = (
                    "a BroadcastProcessFunction can only be used on a non-keyed stream; use a "
                    "KeyedBroadcastProcessFunction after key_by()"
                )
                raise GraphError(msg)
            name = "Co-Process-Broadcast"
        else:
            msg = (
                "process() on a broadcast-connected stream needs a BroadcastProcessFunction or "
                f"a KeyedBroadcastProcessFunction; got {func!r}"
            )
            raise GraphError(msg)
        make = _per_subtask(func, name)
        return _two_input_stream(
            name,
            self.stream,
            self.broadcast.stream,
            lambda: ops.CoBroadcastProcessOperator(make(), descriptors),
            key,
        )


def _tag(tag: Any) -> OutputTag[Any]:
    if not isinstance(tag, OutputTag):
        msg = f"a late-data side output needs an OutputTag; got {tag!r}"
        raise GraphError(msg)
    return tag


def _milliseconds(value: Any, what: str) -> int:
    # PyFlink passes Time/Duration objects; ours are plain milliseconds
    if hasattr(value, "to_milliseconds"):
        value = value.to_milliseconds()
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"interval join {what} must be an int of milliseconds; got {value!r}"
        raise GraphError(msg)
    return value


class IntervalJoin(Generic[IN1, IN2]):
    """``left.interval_join(right)``: both keyed; set the interval with ``between``."""

    def __init__(self, left: KeyedStream[IN1, Any], right: KeyedStream[IN2, Any]) -> None:
        _same_environment(left, right, "interval_join")
        if not isinstance(right, KeyedStream):
            msg = "interval_join() joins two keyed streams; call key_by() on the other stream"
            raise GraphError(msg)
        self.left = left
        self.right = right

    def between(self, lower_bound: int, upper_bound: int) -> IntervalJoined[IN1, IN2]:
        """Join right elements with ``left.ts + lower_bound <= right.ts <= left.ts + upper_bound``.

        Raises:
            GraphError: a bound is not an int, or ``lower_bound > upper_bound``.
        """
        lower = _milliseconds(lower_bound, "lower_bound")
        upper = _milliseconds(upper_bound, "upper_bound")
        if lower > upper:
            msg = f"interval join needs lower_bound <= upper_bound; got {lower} > {upper}"
            raise GraphError(msg)
        return IntervalJoined(self.left, self.right, lower, upper)


class IntervalJoined(Generic[IN1, IN2]):
    """An interval join with its bounds; ``process`` adds the join operator."""

    def __init__(
        self,
        left: KeyedStream[IN1, Any],
        right: KeyedStream[IN2, Any],
        lower_bound: int,
        upper_bound: int,
    ) -> None:
        self.left = left
        self.right = right
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.lower_bound_inclusive = True
        self.upper_bound_inclusive = True
        self.left_late_tag: OutputTag[Any] | None = None
        self.right_late_tag: OutputTag[Any] | None = None

    def lower_bound_exclusive(self) -> Self:
        """Exclude pairs exactly at the lower bound."""
        self.lower_bound_inclusive = False
        return self

    def upper_bound_exclusive(self) -> Self:
        """Exclude pairs exactly at the upper bound."""
        self.upper_bound_inclusive = False
        return self

    def side_output_left_late_data(self, tag: OutputTag[IN1]) -> Self:
        """Send late left elements to side output ``tag`` instead of dropping them."""
        self.left_late_tag = _tag(tag)
        return self

    def side_output_right_late_data(self, tag: OutputTag[IN2]) -> Self:
        """Send late right elements to side output ``tag`` instead of dropping them."""
        self.right_late_tag = _tag(tag)
        return self

    def process(
        self, func: ProcessJoinFunction[IN1, IN2, OUT], output_type: Any = None
    ) -> DataStream[OUT]:
        """Call ``func.process_element(left, right, ctx, out)`` for every pair in the interval.

        Raises:
            GraphError: ``func`` is not a ``ProcessJoinFunction``.
        """
        if not isinstance(func, ProcessJoinFunction):
            msg = f"interval join process() needs a ProcessJoinFunction; got {func!r}"
            raise GraphError(msg)
        lower, upper = self.lower_bound, self.upper_bound
        lower_inclusive, upper_inclusive = self.lower_bound_inclusive, self.upper_bound_inclusive
        left_late, right_late = self.left_late_tag, self.right_late_tag
        make = _per_subtask(func, "Interval Join")
        return _two_input_stream(
            "Interval Join",
            self.left,
            self.right,
            lambda: ops.IntervalJoinOperator(
                make(),
                lower,
                upper,
                lower_bound_inclusive=lower_inclusive,
                upper_bound_inclusive=upper_inclusive,
                left_late_tag=left_late,
                right_late_tag=right_late,
            ),
            _key_selector(self.left),
            _key_selector(self.right),
        )


def connect(first: DataStream[Any], other: Any) -> Any:
    """``first.connect(other)``: connected streams, or broadcast-connected for a broadcast."""
    if isinstance(other, BroadcastStream):
        return BroadcastConnectedStream(first, other)
    return ConnectedStreams(first, other)
