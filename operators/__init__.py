"""Operator implementations, one per module (Flink's ``Stream*`` operators).

Layout: ``base`` (lifecycle defaults, keyed state, timers, user functions), then one module per
operator: ``map``, ``filter``, ``flat_map``, ``reduce``, ``keyed_aggregation``, ``process``,
``timestamps_and_watermarks``, ``source``, ``sink``, ``window`` (with ``window_contents``,
``window_contexts``, ``window_state`` and ``merging_window_set``). Operators build on
``streamrt.runtime`` and ``streamrt.functions`` only; the DataStream API in ``streamrt``
creates them.
"""

from operators.base import AbstractStreamOperator, AbstractUdfStreamOperator
from operators.filter import FilterOperator
from operators.flat_map import FlatMapOperator
from operators.keyed_aggregation import Aggregation, KeyedAggregationOperator
from operators.map import MapOperator
from operators.process import ProcessOperator
from operators.reduce import ReduceOperator
from operators.sink import SinkOperator
from operators.source import SourceOperator
from operators.timestamps_and_watermarks import TimestampsAndWatermarksOperator
from operators.window import WindowOperator

__all__ = [
    "AbstractStreamOperator",
    "AbstractUdfStreamOperator",
    "Aggregation",
    "FilterOperator",
    "FlatMapOperator",
    "KeyedAggregationOperator",
    "MapOperator",
    "ProcessOperator",
    "ReduceOperator",
    "SinkOperator",
    "SourceOperator",
    "TimestampsAndWatermarksOperator",
    "WindowOperator",
]
