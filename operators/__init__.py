"""Operator implementations, one per module (Flink's ``Stream*`` operators).

Layout: ``base`` (lifecycle defaults, keyed state, timers, user functions), then one module per
operator: ``map``, ``filter``, ``flat_map``, ``reduce``, ``process``, ``async_wait`` (with its
``async_queues``), ``timestamps_and_watermarks``, ``source``, ``sink``. Operators build on
``streamrt.runtime`` and ``streamrt.functions`` only; the DataStream API in ``streamrt`` creates
them.
"""

from operators.async_wait import AsyncWaitOperator
from operators.base import AbstractStreamOperator, AbstractUdfStreamOperator
from operators.filter import FilterOperator
from operators.flat_map import FlatMapOperator
from operators.map import MapOperator
from operators.process import ProcessOperator
from operators.reduce import ReduceOperator
from operators.sink import SinkOperator
from operators.source import SourceOperator
from operators.timestamps_and_watermarks import TimestampsAndWatermarksOperator

__all__ = [
    "AbstractStreamOperator",
    "AbstractUdfStreamOperator",
    "AsyncWaitOperator",
    "FilterOperator",
    "FlatMapOperator",
    "MapOperator",
    "ProcessOperator",
    "ReduceOperator",
    "SinkOperator",
    "SourceOperator",
    "TimestampsAndWatermarksOperator",
]
