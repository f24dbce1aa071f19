"""The DataStream API: PyFlink's names, the Python way.

A ``DataStream`` is a handle on the output of an operator (or a virtual stream: a union, a
re-partitioning, a side output). Every method adds nodes and edges to the environment's stream
graph at once; nothing runs until ``env.execute()``. Plain callables are accepted wherever a
function object is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar, overload

import operators as ops
from streamrt.async_io import AsyncFunction, AsyncOptions, async_function_factory
from streamrt.connectors.collect import CollectSink
from streamrt.connectors.print_sink import PrintSink
from streamrt.errors import GraphError
from streamrt.functions import (
    FilterFunction,
    FlatMapFunction,
    Function,
    KeySelector,
    MapFunction,
    ProcessFunction,
    ReduceFunction,
    function_callable,
)
from streamrt.runtime.config import JobConfig, check_max_parallelism, check_parallelism
from streamrt.runtime.failed_records import ErrorPolicy, check_error_policy
from streamrt.runtime.key_groups import checked_key_selector
from streamrt.runtime.operator import StreamOperator
from streamrt.runtime.output_tag import OutputTag
from streamrt.runtime.partitioners import (
    BroadcastPartitioner,
    ForwardPartitioner,
    GlobalPartitioner,
    KeyGroupStreamPartitioner,
    RebalancePartitioner,
    RescalePartitioner,
    ShufflePartitioner,
    StreamPartitioner,
)
from streamrt.runtime.sink_writer import Sink
from streamrt.runtime.stream_graph import ChainingStrategy, NodeKind, StreamGraph, StreamNode
from streamrt.runtime.watermark_strategy import WatermarkStrategy

if TYPE_CHECKING:
    from streamrt.connected_streams import (
        BroadcastConnectedStream,
        BroadcastStream,
        ConnectedStreams,
        IntervalJoin,
    )
    from streamrt.join import CoGroupedStreams, JoinedStreams
    from streamrt.state_descriptors import MapStateDescriptor
    from streamrt.windowed_stream import AllWindowedStream, WindowedStream
    from streamrt.windowing.assigners import WindowAssigner

__all__ = ["DataStream", "DataStreamSink", "KeyedStream"]

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K")


@dataclass(frozen=True)
class _Input:
    """How a stream reaches the next operator.

    From which node, partitioned how, with which side-output tag, over which channel (``None``:
    local queues; else an external channel spec).
    """

    node_id: int
    partitioner: StreamPartitioner | None = None
    tag: OutputTag[Any] | None = None
    channel: Any = None


def _per_subtask(function: Any, operator_name: str) -> Callable[[], Any]:
    """A factory giving each subtask its own copy of a function object.

    Flink serializes one copy per subtask; plain callables are shared.
    """
    if not isinstance(function, Function):
        return lambda: function
    try:
        copy.deepcopy(function)
    except Exception as exc:
        msg = (
            f"the function of operator {operator_name!r} cannot be copied for each subtask: "
            f"{type(exc).__name__}: {exc}; create unpicklable resources in open() instead"
        )
        raise GraphError(msg) from exc
    return lambda: copy.deepcopy(function)


class _Environment(Protocol):
    """What a stream needs of its environment (``StreamExecutionEnvironment`` has it)."""

    config: JobConfig
    stream_graph: StreamGraph

    def add_node(
        self,
        name: str,
        kind: NodeKind,
        factory: Callable[[], StreamOperator[Any]],
        *,
        key_selector: Callable[[Any], Any] | None = None,
    ) -> StreamNode: ...

    def execute(self, job_name: str) -> object: ...

    async def execute_async(self, job_name: str) -> object: ...


class _OperatorHandle:
    """Naming, sizing and chaining of the operator behind a stream or a sink."""

    _node: StreamNode | None

    def _operator_node(self, method: str) -> StreamNode:
        if self._node is None:
            msg = (
                f"{method}() applies to the output of an operator; this stream is the result of "
                "key_by(), union(), a partitioning or get_side_output()"
            )
            raise GraphError(msg)
        return self._node

    def name(self, name: str) -> Self:
        """Name the operator (shown in plans, errors and metrics)."""
        if not isinstance(name, str) or not name.strip():
            msg = f"an operator name must be a non-empty string; got {name!r}"
            raise GraphError(msg)
        self._operator_node("name").name = name
        return self

    def uid(self, uid: str) -> Self:
        """Give the operator a stable id for its state across job versions."""
        self._operator_node("uid").uid = uid
        return self

    def set_parallelism(self, parallelism: int) -> Self:
        """Run the operator with ``parallelism`` subtasks."""
        node = self._operator_node("set_parallelism")
        check_parallelism(parallelism, node.name)
        if not getattr(node.source, "parallel", True) and parallelism != 1:
            msg = f"source {node.name!r} is not parallel; its parallelism must be 1"
            raise GraphError(msg)
        node.parallelism = parallelism
        return self

    def disable_chaining(self) -> Self:
        """Run the operator in a task of its own."""
        self._operator_node("disable_chaining").chaining = ChainingStrategy.NEVER
        return self

    def start_new_chain(self) -> Self:
        """Start a new chain at this operator (operators after it may chain to it)."""
        self._operator_node("start_new_chain").chaining = ChainingStrategy.HEAD
        return self


class DataStream(_OperatorHandle, Generic[T]):
    """A stream of records of type ``T``."""

    def __init__(
        self,
        env: _Environment,
        inputs: tuple[_Input, ...],
        node: StreamNode | None = None,
    ) -> None:
        self._env = env
        self._inputs = inputs
        self._node = node

    # -- the operator behind this stream ----------------------------------------------------
    def set_max_parallelism(self, max_parallelism: int) -> DataStream[T]:
        """Set the number of key groups of the operator's keyed state."""
        node = self._operator_node("set_max_parallelism")
        node.max_parallelism = check_max_parallelism(max_parallelism, node.name)
        return self

    def on_error(self, policy: ErrorPolicy) -> DataStream[T]:
        """What the operator does when its user function raises on a record.

        ``"fail"`` (default): stop the job with an ``OperatorError`` naming the operator.
        ``"skip"``: count the record in the operator's ``errors`` and go on.
        ``"side_output"``: count it and emit a ``FailedRecord`` to
        ``get_side_output(FAILED_RECORDS)`` (e.g. to send it to a dead-letter topic).
        """
        node = self._operator_node("on_error")
        if not node.applies_error_policy:
            msg = (
                "on_error() applies to operators that call a user function per record (map, "
                f"flat_map, filter, reduce, process); {node.name!r} does not"
            )
            if node.kind is NodeKind.SOURCE:
                msg += (
                    " (a KafkaSource takes on_error= or dead_letter_topic= for records it cannot "
                    "deserialize)"
                )
            raise GraphError(msg)
        node.error_policy = check_error_policy(policy, node.name)
        return self

    # -- building ----------------------------------------------------------------------------
    def _connect(
        self,
        name: str,
        factory: Callable[[], StreamOperator[Any]],
        *,
        kind: NodeKind = NodeKind.OPERATOR,
        key_selector: Callable[[Any], Any] | None = None,
    ) -> StreamNode:
        graph = self._env.stream_graph
        if any(i.node_id not in graph.nodes for i in self._inputs):
            msg = (
                f"cannot add {name!r}: this stream belongs to a pipeline that was already "
                "executed (execute() runs the pipeline and clears it, as Flink does); build "
                "the pipeline again, from its source, before executing again"
            )
            raise GraphError(msg)
        node = self._env.add_node(name, kind, factory, key_selector=key_selector)
        for source in self._inputs:
            self._env.stream_graph.add_edge(
                source.node_id, node.node_id, source.partitioner, source.tag, source.channel
            )
        return node

    def _transform(
        self,
        name: str,
        factory: Callable[[], StreamOperator[Any]],
    ) -> DataStream[Any]:
        node = self._connect(name, factory, key_selector=self._key_selector())
        return DataStream(self._env, (_Input(node.node_id),), node)

    def _key_selector(self) -> Callable[[Any], Any] | None:
        return None

    def map(
        self, func: Callable[[T], U] | MapFunction[T, U], output_type: Any = None
    ) -> DataStream[U]:
        """Apply ``func`` to every value (``output_type``: PyFlink's, accepted and unused)."""
        function_callable(func, MapFunction, "map")
        make = _per_subtask(func, "Map")

        return self._transform("Map", lambda: ops.MapOperator(make()))

    def flat_map(
        self, func: Callable[[T], Iterable[U]] | FlatMapFunction[T, U], output_type: Any = None
    ) -> DataStream[U]:
        """Replace every value by the values of the iterable ``func`` returns or yields.

        ``output_type`` is PyFlink's, accepted and unused (``streamrt.typeinfo``).
        """
        function_callable(func, FlatMapFunction, "flat_map")
        make = _per_subtask(func, "Flat Map")

        return self._transform("Flat Map", lambda: ops.FlatMapOperator(make()))

    def filter(self, func: Callable[[T], object] | FilterFunction[T]) -> DataStream[T]:
        """Keep the values for which ``func`` is truthy."""
        function_callable(func, FilterFunction, "filter")
        make = _per_subtask(func, "Filter")

        return self._transform("Filter", lambda: ops.FilterOperator(make()))

    def process(
        self, func: ProcessFunction[T, U] | Callable[[T, Any, Any], None], output_type: Any = None
    ) -> DataStream[U]:
        """Call ``func.process_element(value, ctx, out)`` per value (timers on keyed streams).

        ``output_type`` is PyFlink's, accepted and unused (``streamrt.typeinfo``).
        """
        if not isinstance(func, ProcessFunction) and not callable(func):
            msg = f"process() needs a ProcessFunction or a callable; got {func!r}"
            raise GraphError(msg)
        name = "KeyedProcess" if self._key_selector() is not None else "Process"
        make = _per_subtask(func, name)
        return self._transform(name, lambda: ops.ProcessOperator(make()))

    def map_async(
        self,
        func: AsyncFunction[T, U] | Callable[[T], Coroutine[Any, Any, U]],
        *,
        capacity: int = 100,
        ordered: bool = True,
        timeout_ms: int | None = None,
        retries: int = 0,
        retry_delay_ms: int = 100,
        flat: bool = False,
    ) -> DataStream[U]:
        """Look every value up with ``await func(value)``, many at a time (Flink's async I/O).

        ``func`` is an ``async def`` (an HTTP or database lookup) or an ``AsyncFunction``. Up
        to ``capacity`` requests run at once per subtask; when that many are pending the task
        takes no more input (back-pressure). Results keep their input's timestamp and leave in
        input order (``ordered=True``) or as they complete, but never across a watermark.
        ``func`` returns one result; with ``flat=True`` it returns an iterable of results (none
        or several). A request failing is tried again ``retries`` times, ``retry_delay_ms``
        apart; one without a result within ``timeout_ms`` (retries included) or failing every
        attempt goes to the ``on_error()`` policy (default: the job fails naming the operator).
        Requests still pending at a checkpoint are part of it and start again on restore.
        See docs/async-io.md.

        Raises:
            GraphError: ``func`` is not an ``async def``/``AsyncFunction``, or an option is
                out of range.
        """
        options = AsyncOptions(capacity, ordered, timeout_ms, retries, retry_delay_ms, flat)
        make = async_function_factory(func)
        return self._transform("Async Map", lambda: ops.AsyncWaitOperator(make(), options))

    def key_by(
        self, key_selector: Callable[[T], K] | KeySelector[T, K], key_type: Any = None
    ) -> KeyedStream[T, K]:
        """Partition by key: equal keys reach the same subtask; state and timers are per key.

        ``key_type`` is PyFlink's, accepted and unused (``streamrt.typeinfo``).
        """
        selector = checked_key_selector(function_callable(key_selector, KeySelector, "get_key"))
        partitioner = KeyGroupStreamPartitioner(selector)
        inputs = tuple(replace(i, partitioner=partitioner) for i in self._inputs)
        return KeyedStream(self._env, inputs, selector)

    def union(self, *streams: DataStream[T]) -> DataStream[T]:
        """Merge this stream with others of the same type (no order between them)."""
        inputs = list(self._inputs)
        for stream in streams:
            if not isinstance(stream, DataStream) or stream._env is not self._env:  # noqa: SLF001
                msg = "union() takes DataStreams of the same environment"
                raise GraphError(msg)
            inputs.extend(stream._inputs)  # noqa: SLF001  (same class)
        return DataStream(self._env, tuple(inputs))

    @overload
    def connect(self, other: BroadcastStream[U]) -> BroadcastConnectedStream[T, U]: ...
    @overload
    def connect(self, other: DataStream[U]) -> ConnectedStreams[T, U]: ...
    def connect(
        self, other: DataStream[U] | BroadcastStream[U]
    ) -> ConnectedStreams[T, U] | BroadcastConnectedStream[T, U]:
        """Connect with ``other`` for a two-input operator (``map``/``flat_map``/``process``).

        With a ``BroadcastStream`` (``broadcast(descriptor)``) the result runs a
        ``(Keyed)BroadcastProcessFunction`` that reads the broadcast state.
        """
        from streamrt.connected_streams import connect  # the API module built on this one

        return connect(self, other)  # type: ignore[no-any-return]

    def get_side_output(self, tag: OutputTag[U]) -> DataStream[U]:
        """The records this operator emitted to side output ``tag``."""
        node = self._operator_node("get_side_output")
        if not isinstance(tag, OutputTag):
            msg = f"get_side_output() needs an OutputTag; got {tag!r}"
            raise GraphError(msg)
        return DataStream(self._env, (_Input(node.node_id, None, tag),))

    def assign_timestamps_and_watermarks(
        self, watermark_strategy: WatermarkStrategy
    ) -> DataStream[T]:
        """Re-assign timestamps and generate watermarks here (upstream watermarks are dropped)."""
        if not isinstance(watermark_strategy, WatermarkStrategy):
            msg = (
                "assign_timestamps_and_watermarks() needs a WatermarkStrategy; "
                f"got {watermark_strategy!r}"
            )
            raise GraphError(msg)
        interval = self._env.config.auto_watermark_interval_ms
        node = self._connect(
            "Timestamps/Watermarks",
            lambda: ops.TimestampsAndWatermarksOperator(watermark_strategy, interval),
            key_selector=self._key_selector(),
        )
        node.applies_error_policy = False  # a failing timestamp assigner fails the job
        return DataStream(self._env, (_Input(node.node_id),), node)

    def window_all(self, assigner: WindowAssigner) -> AllWindowedStream[T, Any]:
        """Windows over the whole stream (not per key); runs at parallelism 1, as in Flink."""
        from streamrt.windowed_stream import AllWindowedStream

        return AllWindowedStream(self, assigner)

    def count_window_all(self, size: int, slide: int | None = None) -> AllWindowedStream[T, Any]:
        """Windows of ``size`` elements of the whole stream, every ``slide`` elements."""
        from streamrt.windowed_stream import AllWindowedStream, count_windows
        from streamrt.windowing.assigners import GlobalWindows

        return count_windows(AllWindowedStream(self, GlobalWindows.create()), size, slide)

    def join(self, other: DataStream[U]) -> JoinedStreams[T, U]:
        """Window join: ``a.join(b).where(ka).equal_to(kb).window(assigner).apply(fn)``."""
        from streamrt.join import JoinedStreams

        return JoinedStreams(self, other)

    def co_group(self, other: DataStream[U]) -> CoGroupedStreams[T, U]:
        """Window co-group: like ``join``, but ``fn(firsts, seconds)`` per key and window."""
        from streamrt.join import CoGroupedStreams

        return CoGroupedStreams(self, other)

    # -- partitioning --------------------------------------------------------------------------
    def _partition(self, partitioner: StreamPartitioner) -> DataStream[T]:
        inputs = tuple(replace(i, partitioner=partitioner) for i in self._inputs)
        return DataStream(self._env, inputs)

    def _with_inputs(self, inputs: tuple[_Input, ...]) -> Self:
        # a virtual stream of the same kind (a keyed stream stays keyed)
        stream = copy.copy(self)
        stream._inputs = inputs  # noqa: SLF001  (our own class)
        stream._node = None  # noqa: SLF001
        return stream

    def through_kafka(
        self,
        topic: str,
        *,
        bootstrap_servers: str,
        serializer: Callable[[T], bytes] | None = None,
        deserializer: Callable[[bytes], T] | None = None,
        **settings: Any,
    ) -> Self:
        """Send this stream to the next operator through a Kafka topic instead of local queues.

        The partitioning is kept: ``stream.key_by(f).through_kafka("by-user", ...)`` is a
        repartition topic whose partition ``i`` feeds subtask ``i`` of the next operator.
        Watermarks, checkpoint barriers and end of input cross the topic too, so event time
        and checkpoints work as on a local edge. The topic is created (one partition per
        consumer subtask) if missing. Values are pickled unless ``serializer``/``deserializer``
        are given. Extra keyword arguments go to ``KafkaEdge`` (``security``, client settings).
        """
        # imported here so that `import streamrt` does not load aiokafka
        from streamrt.connectors.kafka.edge import KafkaEdge

        options: dict[str, Any] = dict(settings)
        if serializer is not None:
            options["serializer"] = serializer
        if deserializer is not None:
            options["deserializer"] = deserializer
        edge = KafkaEdge(topic, bootstrap_servers=bootstrap_servers, **options)
        return self._with_inputs(tuple(replace(i, channel=edge) for i in self._inputs))

    def forward(self) -> DataStream[T]:
        """Each subtask sends to the downstream subtask with its index (equal parallelism)."""
        return self._partition(ForwardPartitioner())

    def rebalance(self) -> DataStream[T]:
        """Round robin over all downstream subtasks."""
        return self._partition(RebalancePartitioner())

    def rescale(self) -> DataStream[T]:
        """Round robin over a local subset of downstream subtasks."""
        return self._partition(RescalePartitioner())

    def shuffle(self) -> DataStream[T]:
        """A random downstream subtask per record."""
        return self._partition(ShufflePartitioner())

    @overload
    def broadcast(self) -> DataStream[T]: ...
    @overload
    def broadcast(
        self, descriptor: MapStateDescriptor, /, *descriptors: MapStateDescriptor
    ) -> BroadcastStream[T]: ...
    def broadcast(self, *descriptors: MapStateDescriptor) -> DataStream[T] | BroadcastStream[T]:
        """Every record to every downstream subtask.

        With ``MapStateDescriptor``s: a ``BroadcastStream`` whose elements maintain that
        broadcast state, for ``other.connect(broadcast_stream).process(...)``.
        """
        if not descriptors:
            return self._partition(BroadcastPartitioner())
        from streamrt.connected_streams import BroadcastStream  # the API module built on this one

        return BroadcastStream(self, descriptors)

    def global_(self) -> DataStream[T]:
        """Everything to downstream subtask 0 (``global`` is a Python keyword)."""
        return self._partition(GlobalPartitioner())

    # -- sinks ---------------------------------------------------------------------------------
    def sink_to(self, sink: Sink[T]) -> DataStreamSink[T]:
        """Write every record to ``sink``."""
        if not hasattr(sink, "create_writer"):
            msg = f"sink_to() needs a Sink (an object with create_writer()); got {sink!r}"
            raise GraphError(msg)
        node = self._connect(
            f"Sink: {type(sink).__name__}",
            lambda: ops.SinkOperator(sink),
            kind=NodeKind.SINK,
            key_selector=self._key_selector(),
        )
        return DataStreamSink(self._env, node)

    def print(self, sink_identifier: str = "") -> DataStreamSink[T]:
        """Print every value to standard output, as PyFlink does.

        Lines are prefixed ``"id> "`` with an identifier, ``"id:2> "`` when parallel too,
        ``"2> "`` when parallel without one (the subtask's display number).
        """
        return self.sink_to(PrintSink(sink_identifier)).name("Print to Std. Out")

    def execute_and_collect(self, job_name: str = "collect") -> list[T]:
        """Run the job (which must be bounded) and return the values of this stream."""
        sink: CollectSink[T] = CollectSink()
        self.sink_to(sink).name("Collect").set_parallelism(1)
        self._env.execute(job_name)
        return sink.values

    async def execute_and_collect_async(self, job_name: str = "collect") -> list[T]:
        """``execute_and_collect`` inside a running event loop."""
        sink: CollectSink[T] = CollectSink()
        self.sink_to(sink).name("Collect").set_parallelism(1)
        await self._env.execute_async(job_name)
        return sink.values


class KeyedStream(DataStream[T], Generic[T, K]):
    """A stream partitioned by key; operators on it have per-key state and timers."""

    def __init__(
        self,
        env: _Environment,
        inputs: tuple[_Input, ...],
        key_selector: Callable[[T], K],
    ) -> None:
        super().__init__(env, inputs)
        self._selector = key_selector

    def _key_selector(self) -> Callable[[Any], Any] | None:
        return self._selector

    def interval_join(self, other: KeyedStream[U, K]) -> IntervalJoin[T, U]:
        """Join with ``other`` by key and timestamp interval (``.between(lower, upper)``)."""
        from streamrt.connected_streams import IntervalJoin  # the API module built on this one

        return IntervalJoin(self, other)

    def reduce(self, func: Callable[[T, T], T] | ReduceFunction[T]) -> DataStream[T]:
        """Rolling reduce: emit ``func(previous result, value)`` for every value, per key."""
        function_callable(func, ReduceFunction, "reduce")
        make = _per_subtask(func, "Keyed Reduce")

        return self._transform("Keyed Reduce", lambda: ops.ReduceOperator(make()))

    def _aggregate(self, aggregation: ops.Aggregation, field: int | str) -> DataStream[T]:
        checked = ops.keyed_aggregation.check_field(aggregation, field)
        return self._transform(
            "Keyed Aggregation", lambda: ops.KeyedAggregationOperator(aggregation, checked)
        )

    def sum(self, field: int | str = 0) -> DataStream[T]:
        """Rolling sum of ``field`` per key; other fields stay those of the key's first record.

        ``field`` is a position (tuples, lists, Rows) or a name (dict keys, attributes); see
        ``docs/state.md``.
        """
        return self._aggregate(ops.Aggregation.SUM, field)

    def min(self, field: int | str = 0) -> DataStream[T]:
        """Rolling minimum of ``field`` per key; other fields stay those of the first record."""
        return self._aggregate(ops.Aggregation.MIN, field)

    def max(self, field: int | str = 0) -> DataStream[T]:
        """Rolling maximum of ``field`` per key; other fields stay those of the first record."""
        return self._aggregate(ops.Aggregation.MAX, field)

    def min_by(self, field: int | str = 0) -> DataStream[T]:
        """Per key, the record with the smallest ``field`` so far (the first one on ties)."""
        return self._aggregate(ops.Aggregation.MIN_BY, field)

    def max_by(self, field: int | str = 0) -> DataStream[T]:
        """Per key, the record with the largest ``field`` so far (the first one on ties)."""
        return self._aggregate(ops.Aggregation.MAX_BY, field)

    def window(self, assigner: WindowAssigner) -> WindowedStream[T, K, Any]:
        """Cut each key's records into the windows ``assigner`` gives them."""
        from streamrt.windowed_stream import WindowedStream

        return WindowedStream(self, assigner)

    def count_window(self, size: int, slide: int | None = None) -> WindowedStream[T, K, Any]:
        """Windows of each key's last ``size`` records, every ``slide`` records (default: size)."""
        from streamrt.windowed_stream import WindowedStream, count_windows
        from streamrt.windowing.assigners import GlobalWindows

        return count_windows(WindowedStream(self, GlobalWindows.create()), size, slide)


class DataStreamSink(_OperatorHandle, Generic[T]):
    """The handle a sink returns: name it, size it, keep it apart from chains."""

    def __init__(self, env: _Environment, node: StreamNode) -> None:
        self._env = env
        self._node = node
