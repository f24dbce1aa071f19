"""Operator implementations, one per module (Flink's ``Stream*`` operators).

Layout: ``base`` (lifecycle defaults, keyed state, timers, user functions), ``function_forms`` (a
user method in our collector form or PyFlink's yielding one) and ``process_context`` (the ``ctx``
and timer service of the process functions), then one module per operator: ``map``, ``filter``,
``flat_map``, ``reduce``, ``keyed_aggregation``, ``process``, ``async_wait`` (with its
``async_queues``), ``timestamps_and_watermarks``, ``source``, ``sink``, ``window`` (with
``window_contents``, ``window_contexts``, ``window_state`` and ``merging_window_set``); two-input
operators build on ``two_input`` (``co_map``, ``co_process``, ``co_broadcast_process``,
``interval_join``). Operators build on ``streamrt.runtime`` and ``streamrt.functions`` only; the
DataStream API in ``streamrt`` creates them.
"""

from operators.async_wait import AsyncWaitOperator
from operators.base import AbstractStreamOperator, AbstractUdfStreamOperator
from operators.co_broadcast_process import CoBroadcastProcessOperator
from operators.co_map import CoFlatMapOperator, CoMapOperator
from operators.co_process import CoProcessOperator
from operators.filter import FilterOperator
from operators.flat_map import FlatMapOperator
from operators.interval_join import IntervalJoinOperator
from operators.keyed_aggregation import Aggregation, KeyedAggregationOperator
from operators.map import MapOperator
from operators.process import ProcessOperator
from operators.reduce import ReduceOperator
from operators.sink import SinkOperator
from operators.source import SourceOperator
from operators.timestamps_and_watermarks import TimestampsAndWatermarksOperator
from operators.two_input import AbstractTwoInputStreamOperator
from operators.window import WindowOperator

__all__ = [
    "AbstractStreamOperator",
    "AbstractTwoInputStreamOperator",
    "AbstractUdfStreamOperator",
    "Aggregation",
    "AsyncWaitOperator",
    "CoBroadcastProcessOperator",
    "CoFlatMapOperator",
    "CoMapOperator",
    "CoProcessOperator",
    "FilterOperator",
    "FlatMapOperator",
    "IntervalJoinOperator",
    "KeyedAggregationOperator",
    "MapOperator",
    "ProcessOperator",
    "ReduceOperator",
    "SinkOperator",
    "SourceOperator",
    "TimestampsAndWatermarksOperator",
    "WindowOperator",
]
