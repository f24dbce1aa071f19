"""streamrt: a stream-processing runtime for Python on asyncio, modeled on Flink.

Layout (house style): this module is the public API. ``streamrt.runtime`` is the engine (no
compatibility promise; its package docstring walks the record path); ``operators`` holds the
operator implementations; ``metrics`` exports runtime statistics to Prometheus;
``streamrt.connectors`` holds sources and sinks; ``streamrt.testing`` test helpers.

Layers, bottom-up: ``streamrt.errors`` and ``streamrt.runtime`` (the engine); then
``streamrt.functions`` (what users implement) and ``operators``; then ``streamrt.connectors``;
then the API (``streamrt.datastream``, ``streamrt.environment``), ``metrics`` and the CLI. A
module imports only its own layer and the ones below. Because ``operators`` and every lower
module live under this package (or import from it), this facade is lazy (PEP 562): importing
``streamrt.runtime.elements`` or ``operators`` runs this file but loads nothing above the layer
asked for, and a public name loads its module, with everything below it, on first use. No
module is ever seen half-initialised, whichever is imported first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamrt.async_io import AsyncFunction
    from streamrt.co_functions import (
        BroadcastProcessFunction,
        CoFlatMapFunction,
        CoMapFunction,
        CoProcessFunction,
        KeyedBroadcastProcessFunction,
        KeyedCoProcessFunction,
        ProcessJoinFunction,
    )
    from streamrt.connected_streams import (
        BroadcastConnectedStream,
        BroadcastStream,
        ConnectedStreams,
        IntervalJoin,
        IntervalJoined,
    )
    from streamrt.connectors.collection import CollectionSource
    from streamrt.connectors.datagen import DataGeneratorSource
    from streamrt.connectors.iterator import IteratorSource
    from streamrt.connectors.print_sink import PrintSink
    from streamrt.datastream import DataStream, DataStreamSink, KeyedStream
    from streamrt.environment import StreamExecutionEnvironment
    from streamrt.errors import (
        ChannelClosedError,
        CheckpointError,
        ConfigError,
        ConnectorError,
        GraphError,
        JobCancelledError,
        OperatorError,
        RecordError,
        StreamrtError,
    )
    from streamrt.functions import (
        AggregateFunction,
        FilterFunction,
        FlatMapFunction,
        KeyedProcessFunction,
        KeySelector,
        MapFunction,
        ProcessFunction,
        ReduceFunction,
        RuntimeContext,
        TimeDomain,
    )
    from streamrt.join import CoGroupedStreams, JoinedStreams
    from streamrt.runtime.broadcast_state import BroadcastState, ReadOnlyBroadcastState
    from streamrt.runtime.checkpoint_coordinator import CompletedCheckpoint
    from streamrt.runtime.copying import register_immutable_type
    from streamrt.runtime.elements import MAX_WATERMARK, MIN_WATERMARK
    from streamrt.runtime.failed_records import FAILED_RECORDS, FailedRecord
    from streamrt.runtime.job import Job, JobExecutionResult, JobStatus
    from streamrt.runtime.output_tag import OutputTag
    from streamrt.runtime.state import (
        AggregatingState,
        ListState,
        MapState,
        ReducingState,
        ValueState,
    )
    from streamrt.runtime.statistics import JobStatistics
    from streamrt.runtime.watermark_strategy import WatermarkStrategy
    from streamrt.runtime.watermarks import WatermarkGenerator
    from streamrt.state_descriptors import (
        AggregatingStateDescriptor,
        ListStateDescriptor,
        MapStateDescriptor,
        ReducingStateDescriptor,
        StateDescriptor,
        ValueStateDescriptor,
    )
    from streamrt.state_ttl import StateTtlConfig
    from streamrt.time import Time
    from streamrt.typeinfo import Row, TypeInformation, Types
    from streamrt.windowed_stream import AllWindowedStream, WindowedStream
    from streamrt.windowing.assigners import (
        EventTimeSessionWindows,
        GlobalWindows,
        MergingWindowAssigner,
        ProcessingTimeSessionWindows,
        SlidingEventTimeWindows,
        SlidingProcessingTimeWindows,
        TumblingEventTimeWindows,
        TumblingProcessingTimeWindows,
        WindowAssigner,
    )
    from streamrt.windowing.evictors import CountEvictor
    from streamrt.windowing.functions import (
        AllWindowFunction,
        CoGroupFunction,
        JoinFunction,
        ProcessAllWindowFunction,
        ProcessWindowFunction,
        WindowFunction,
    )
    from streamrt.windowing.triggers import (
        ContinuousEventTimeTrigger,
        CountTrigger,
        EventTimeTrigger,
        ProcessingTimeTrigger,
        PurgingTrigger,
        Trigger,
        TriggerResult,
    )
    from streamrt.windowing.windows import GlobalWindow, TimeWindow

#: every public name and the module that defines it
_EXPORTS: dict[str, str] = {
    "FAILED_RECORDS": "streamrt.runtime.failed_records",
    "MAX_WATERMARK": "streamrt.runtime.elements",
    "MIN_WATERMARK": "streamrt.runtime.elements",
    "AggregateFunction": "streamrt.functions",
    "AggregatingState": "streamrt.runtime.state",
    "AggregatingStateDescriptor": "streamrt.state_descriptors",
    "AllWindowFunction": "streamrt.windowing.functions",
    "AllWindowedStream": "streamrt.windowed_stream",
    "AsyncFunction": "streamrt.async_io",
    "BroadcastConnectedStream": "streamrt.connected_streams",
    "BroadcastProcessFunction": "streamrt.co_functions",
    "BroadcastState": "streamrt.runtime.broadcast_state",
    "BroadcastStream": "streamrt.connected_streams",
    "ChannelClosedError": "streamrt.errors",
    "CheckpointError": "streamrt.errors",
    "CoFlatMapFunction": "streamrt.co_functions",
    "CoGroupFunction": "streamrt.windowing.functions",
    "CoGroupedStreams": "streamrt.join",
    "CoMapFunction": "streamrt.co_functions",
    "CoProcessFunction": "streamrt.co_functions",
    "CollectionSource": "streamrt.connectors.collection",
    "CompletedCheckpoint": "streamrt.runtime.checkpoint_coordinator",
    "ConfigError": "streamrt.errors",
    "ConnectedStreams": "streamrt.connected_streams",
    "ConnectorError": "streamrt.errors",
    "ContinuousEventTimeTrigger": "streamrt.windowing.triggers",
    "CountEvictor": "streamrt.windowing.evictors",
    "CountTrigger": "streamrt.windowing.triggers",
    "DataGeneratorSource": "streamrt.connectors.datagen",
    "DataStream": "streamrt.datastream",
    "DataStreamSink": "streamrt.datastream",
    "EventTimeSessionWindows": "streamrt.windowing.assigners",
    "EventTimeTrigger": "streamrt.windowing.triggers",
    "FailedRecord": "streamrt.runtime.failed_records",
    "FilterFunction": "streamrt.functions",
    "FlatMapFunction": "streamrt.functions",
    "GlobalWindow": "streamrt.windowing.windows",
    "GlobalWindows": "streamrt.windowing.assigners",
    "GraphError": "streamrt.errors",
    "IntervalJoin": "streamrt.connected_streams",
    "IntervalJoined": "streamrt.connected_streams",
    "IteratorSource": "streamrt.connectors.iterator",
    "Job": "streamrt.runtime.job",
    "JobCancelledError": "streamrt.errors",
    "JobExecutionResult": "streamrt.runtime.job",
    "JobStatistics": "streamrt.runtime.statistics",
    "JobStatus": "streamrt.runtime.job",
    "JoinFunction": "streamrt.windowing.functions",
    "JoinedStreams": "streamrt.join",
    "KeySelector": "streamrt.functions",
    "KeyedBroadcastProcessFunction": "streamrt.co_functions",
    "KeyedCoProcessFunction": "streamrt.co_functions",
    "KeyedProcessFunction": "streamrt.functions",
    "KeyedStream": "streamrt.datastream",
    "ListState": "streamrt.runtime.state",
    "ListStateDescriptor": "streamrt.state_descriptors",
    "MapFunction": "streamrt.functions",
    "MapState": "streamrt.runtime.state",
    "MapStateDescriptor": "streamrt.state_descriptors",
    "MergingWindowAssigner": "streamrt.windowing.assigners",
    "OperatorError": "streamrt.errors",
    "OutputTag": "streamrt.runtime.output_tag",
    "PrintSink": "streamrt.connectors.print_sink",
    "ProcessAllWindowFunction": "streamrt.windowing.functions",
    "ProcessFunction": "streamrt.functions",
    "ProcessJoinFunction": "streamrt.co_functions",
    "ProcessWindowFunction": "streamrt.windowing.functions",
    "ProcessingTimeSessionWindows": "streamrt.windowing.assigners",
    "ProcessingTimeTrigger": "streamrt.windowing.triggers",
    "PurgingTrigger": "streamrt.windowing.triggers",
    "ReadOnlyBroadcastState": "streamrt.runtime.broadcast_state",
    "RecordError": "streamrt.errors",
    "ReduceFunction": "streamrt.functions",
    "ReducingState": "streamrt.runtime.state",
    "ReducingStateDescriptor": "streamrt.state_descriptors",
    "Row": "streamrt.typeinfo",
    "RuntimeContext": "streamrt.functions",
    "SlidingEventTimeWindows": "streamrt.windowing.assigners",
    "SlidingProcessingTimeWindows": "streamrt.windowing.assigners",
    "StateDescriptor": "streamrt.state_descriptors",
    "StateTtlConfig": "streamrt.state_ttl",
    "StreamExecutionEnvironment": "streamrt.environment",
    "StreamrtError": "streamrt.errors",
    "Time": "streamrt.time",
    "TimeDomain": "streamrt.functions",
    "TimeWindow": "streamrt.windowing.windows",
    "Trigger": "streamrt.windowing.triggers",
    "TriggerResult": "streamrt.windowing.triggers",
    "TumblingEventTimeWindows": "streamrt.windowing.assigners",
    "TumblingProcessingTimeWindows": "streamrt.windowing.assigners",
    "TypeInformation": "streamrt.typeinfo",
    "Types": "streamrt.typeinfo",
    "ValueState": "streamrt.runtime.state",
    "ValueStateDescriptor": "streamrt.state_descriptors",
    "WatermarkGenerator": "streamrt.runtime.watermarks",
    "WatermarkStrategy": "streamrt.runtime.watermark_strategy",
    "WindowAssigner": "streamrt.windowing.assigners",
    "WindowFunction": "streamrt.windowing.functions",
    "WindowedStream": "streamrt.windowed_stream",
    "register_immutable_type": "streamrt.runtime.copying",
}

__all__ = [
    "FAILED_RECORDS",
    "MAX_WATERMARK",
    "MIN_WATERMARK",
    "AggregateFunction",
    "AggregatingState",
    "AggregatingStateDescriptor",
    "AllWindowFunction",
    "AllWindowedStream",
    "AsyncFunction",
    "BroadcastConnectedStream",
    "BroadcastProcessFunction",
    "BroadcastState",
    "BroadcastStream",
    "ChannelClosedError",
    "CheckpointError",
    "CoFlatMapFunction",
    "CoGroupFunction",
    "CoGroupedStreams",
    "CoMapFunction",
    "CoProcessFunction",
    "CollectionSource",
    "CompletedCheckpoint",
    "ConfigError",
    "ConnectedStreams",
    "ConnectorError",
    "ContinuousEventTimeTrigger",
    "CountEvictor",
    "CountTrigger",
    "DataGeneratorSource",
    "DataStream",
    "DataStreamSink",
    "EventTimeSessionWindows",
    "EventTimeTrigger",
    "FailedRecord",
    "FilterFunction",
    "FlatMapFunction",
    "GlobalWindow",
    "GlobalWindows",
    "GraphError",
    "IntervalJoin",
    "IntervalJoined",
    "IteratorSource",
    "Job",
    "JobCancelledError",
    "JobExecutionResult",
    "JobStatistics",
    "JobStatus",
    "JoinFunction",
    "JoinedStreams",
    "KeySelector",
    "KeyedBroadcastProcessFunction",
    "KeyedCoProcessFunction",
    "KeyedProcessFunction",
    "KeyedStream",
    "ListState",
    "ListStateDescriptor",
    "MapFunction",
    "MapState",
    "MapStateDescriptor",
    "MergingWindowAssigner",
    "OperatorError",
    "OutputTag",
    "PrintSink",
    "ProcessAllWindowFunction",
    "ProcessFunction",
    "ProcessJoinFunction",
    "ProcessWindowFunction",
    "ProcessingTimeSessionWindows",
    "ProcessingTimeTrigger",
    "PurgingTrigger",
    "ReadOnlyBroadcastState",
    "RecordError",
    "ReduceFunction",
    "ReducingState",
    "ReducingStateDescriptor",
    "Row",
    "RuntimeContext",
    "SlidingEventTimeWindows",
    "SlidingProcessingTimeWindows",
    "StateDescriptor",
    "StateTtlConfig",
    "StreamExecutionEnvironment",
    "StreamrtError",
    "Time",
    "TimeDomain",
    "TimeWindow",
    "Trigger",
    "TriggerResult",
    "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows",
    "TypeInformation",
    "Types",
    "ValueState",
    "ValueStateDescriptor",
    "WatermarkGenerator",
    "WatermarkStrategy",
    "WindowAssigner",
    "WindowFunction",
    "WindowedStream",
    "register_immutable_type",
]

__version__ = "0.1.0.dev0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'streamrt' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
