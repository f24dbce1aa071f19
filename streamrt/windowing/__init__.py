"""Windows: assigners, triggers, evictors, window functions (the functions layer).

Layout: ``windows`` (``TimeWindow``, ``GlobalWindow``), ``assigners`` (which windows an element
is in), ``triggers`` (when a window fires), ``evictors`` (``CountEvictor``), ``time``
(PyFlink's ``Time`` sizes), ``functions`` (``ProcessWindowFunction`` and the other window and
join function types). The window operator
is ``operators.window``; the API is ``KeyedStream.window`` (``streamrt.windowed_stream``).
"""

from streamrt.time import Time
from streamrt.windowing.assigners import (
    DynamicEventTimeSessionWindows,
    DynamicProcessingTimeSessionWindows,
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
    KeyedStateStore,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    WindowFunction,
)
from streamrt.windowing.triggers import (
    ContinuousEventTimeTrigger,
    CountTrigger,
    EventTimeTrigger,
    NeverTrigger,
    ProcessingTimeTrigger,
    PurgingTrigger,
    Trigger,
    TriggerContext,
    TriggerResult,
)
from streamrt.windowing.windows import GlobalWindow, TimeWindow

__all__ = [
    "AllWindowFunction",
    "CoGroupFunction",
    "ContinuousEventTimeTrigger",
    "CountEvictor",
    "CountTrigger",
    "DynamicEventTimeSessionWindows",
    "DynamicProcessingTimeSessionWindows",
    "EventTimeSessionWindows",
    "EventTimeTrigger",
    "GlobalWindow",
    "GlobalWindows",
    "JoinFunction",
    "KeyedStateStore",
    "MergingWindowAssigner",
    "NeverTrigger",
    "ProcessAllWindowFunction",
    "ProcessWindowFunction",
    "ProcessingTimeSessionWindows",
    "ProcessingTimeTrigger",
    "PurgingTrigger",
    "SlidingEventTimeWindows",
    "SlidingProcessingTimeWindows",
    "Time",
    "TimeWindow",
    "Trigger",
    "TriggerContext",
    "TriggerResult",
    "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows",
    "WindowAssigner",
    "WindowFunction",
]
