"""streamrt: a stream-processing runtime for Python on asyncio, modeled on Flink.

Layout (house style): this module is the public API. ``streamrt.runtime`` is the engine (no
compatibility promise; its package docstring walks the record path); ``operators`` holds the
operator implementations; ``metrics`` exports runtime statistics to Prometheus;
``streamrt.connectors`` holds sources and sinks; ``streamrt.testing`` test helpers.
"""

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

__all__ = [
    "FAILED_RECORDS",
    "MAX_WATERMARK",
    "MIN_WATERMARK",
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
    "MapFunction",
    "OperatorError",
    "OutputTag",
    "PrintSink",
    "ProcessFunction",
    "RecordError",
    "ReduceFunction",
    "RuntimeContext",
    "StreamExecutionEnvironment",
    "StreamrtError",
    "WatermarkGenerator",
    "WatermarkStrategy",
    "register_immutable_type",
]

__version__ = "0.1.0.dev0"
