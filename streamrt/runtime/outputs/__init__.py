"""The Output family (architecture §3; Flink's ``Output`` implementations), one per module.

Only ``streamrt.runtime.chain`` builds these; operators and user functions see them through
the ``Output`` and ``Collector`` protocols.
"""

from streamrt.runtime.outputs.broadcasting import (
    BroadcastingOutputCollector,
    CopyingBroadcastingOutputCollector,
)
from streamrt.runtime.outputs.chaining import ChainingOutput, CopyingChainingOutput
from streamrt.runtime.outputs.counting import CountingOutput
from streamrt.runtime.outputs.output import Collector, Output, WatermarkGaugeExposingOutput
from streamrt.runtime.outputs.record_writer import RecordWriterOutput
from streamrt.runtime.outputs.timestamped import TimestampedCollector

__all__ = [
    "BroadcastingOutputCollector",
    "ChainingOutput",
    "Collector",
    "CopyingBroadcastingOutputCollector",
    "CopyingChainingOutput",
    "CountingOutput",
    "Output",
    "RecordWriterOutput",
    "TimestampedCollector",
    "WatermarkGaugeExposingOutput",
]
