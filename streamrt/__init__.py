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
    )
    from streamrt.runtime.checkpoint_coordinator import CompletedCheckpoint
    from streamrt.runtime.copying import register_immutable_type
    from streamrt.runtime.elements import MAX_WATERMARK, MIN_WATERMARK
    from streamrt.runtime.failed_records import FAILED_RECORDS, FailedRecord
    from streamrt.runtime.job import Job, JobExecutionResult, JobStatus
    from streamrt.runtime.output_tag import OutputTag
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

#: every public name and the module that defines it
_EXPORTS: dict[str, str] = {
    "FAILED_RECORDS": "streamrt.runtime.failed_records",
    "MAX_WATERMARK": "streamrt.runtime.elements",
    "MIN_WATERMARK": "streamrt.runtime.elements",
    "AggregateFunction": "streamrt.functions",
    "AggregatingStateDescriptor": "streamrt.state_descriptors",
    "AsyncFunction": "streamrt.async_io",
    "ChannelClosedError": "streamrt.errors",
    "CheckpointError": "streamrt.errors",
    "CollectionSource": "streamrt.connectors.collection",
    "CompletedCheckpoint": "streamrt.runtime.checkpoint_coordinator",
    "ConfigError": "streamrt.errors",
    "ConnectorError": "streamrt.errors",
    "DataGeneratorSource": "streamrt.connectors.datagen",
    "DataStream": "streamrt.datastream",
    "DataStreamSink": "streamrt.datastream",
    "FailedRecord": "streamrt.runtime.failed_records",
    "FilterFunction": "streamrt.functions",
    "FlatMapFunction": "streamrt.functions",
    "GraphError": "streamrt.errors",
    "IteratorSource": "streamrt.connectors.iterator",
    "Job": "streamrt.runtime.job",
    "JobCancelledError": "streamrt.errors",
    "JobExecutionResult": "streamrt.runtime.job",
    "JobStatistics": "streamrt.runtime.statistics",
    "JobStatus": "streamrt.runtime.job",
    "KeySelector": "streamrt.functions",
    "KeyedProcessFunction": "streamrt.functions",
    "KeyedStream": "streamrt.datastream",
    "ListStateDescriptor": "streamrt.state_descriptors",
    "MapFunction": "streamrt.functions",
    "MapStateDescriptor": "streamrt.state_descriptors",
    "OperatorError": "streamrt.errors",
    "OutputTag": "streamrt.runtime.output_tag",
    "PrintSink": "streamrt.connectors.print_sink",
    "ProcessFunction": "streamrt.functions",
    "RecordError": "streamrt.errors",
    "ReduceFunction": "streamrt.functions",
    "ReducingStateDescriptor": "streamrt.state_descriptors",
    "RuntimeContext": "streamrt.functions",
    "StateDescriptor": "streamrt.state_descriptors",
    "StreamExecutionEnvironment": "streamrt.environment",
    "StreamrtError": "streamrt.errors",
    "ValueStateDescriptor": "streamrt.state_descriptors",
    "WatermarkGenerator": "streamrt.runtime.watermarks",
    "WatermarkStrategy": "streamrt.runtime.watermark_strategy",
    "register_immutable_type": "streamrt.runtime.copying",
}

__all__ = [
    "FAILED_RECORDS",
    "MAX_WATERMARK",
    "MIN_WATERMARK",
    "AggregateFunction",
    "AggregatingStateDescriptor",
    "AsyncFunction",
    "ChannelClosedError",
    "CheckpointError",
    "CollectionSource",
    "CompletedCheckpoint",
    "ConfigError",
    "ConnectorError",
    "DataGeneratorSource",
    "DataStream",
    "DataStreamSink",
    "FailedRecord",
    "FilterFunction",
    "FlatMapFunction",
    "GraphError",
    "IteratorSource",
    "Job",
    "JobCancelledError",
    "JobExecutionResult",
    "JobStatistics",
    "JobStatus",
    "KeySelector",
    "KeyedProcessFunction",
    "KeyedStream",
    "ListStateDescriptor",
    "MapFunction",
    "MapStateDescriptor",
    "OperatorError",
    "OutputTag",
    "PrintSink",
    "ProcessFunction",
    "RecordError",
    "ReduceFunction",
    "ReducingStateDescriptor",
    "RuntimeContext",
    "StateDescriptor",
    "StreamExecutionEnvironment",
    "StreamrtError",
    "ValueStateDescriptor",
    "WatermarkGenerator",
    "WatermarkStrategy",
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
