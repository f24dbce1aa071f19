"""The counters and gauges of one operator and of one task.

Port of the parts of Flink's ``OperatorIOMetricGroup`` and ``TaskIOMetricGroup`` that the
runtime updates. Plain objects with plain-int counters: ``metrics/`` reads them at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from streamrt.runtime.counters import Counter, WatermarkGauge
from streamrt.runtime.statistics import ConnectorMetric

__all__ = ["ConnectorMetricGroup", "OperatorMetrics", "TaskMetrics"]

#: Reports a connector's current values (called at scrape time, never per record).
MetricsProvider = Callable[[], Iterable[ConnectorMetric]]


class ConnectorMetricGroup:
    """Where a source reader or sink writer registers what it reports.

    Port of the role of Flink's ``SourceReaderMetricGroup``/``SinkWriterMetricGroup``: the
    connector gets the group in its context and registers providers; statistics read them.
    """

    __slots__ = ("_providers",)

    def __init__(self) -> None:
        self._providers: list[MetricsProvider] = []

    def register(self, provider: MetricsProvider) -> None:
        """Report ``provider()``'s metrics with every statistics snapshot."""
        self._providers.append(provider)

    def samples(self) -> list[ConnectorMetric]:
        """Every registered provider's current metrics."""
        return [metric for provider in self._providers for metric in provider()]


class OperatorMetrics:
    """Counters of one operator subtask.

    Attributes:
        records_in: records handed to the operator (Flink's ``numRecordsIn``).
        records_out: records the operator emitted, main and side outputs, each emit counted once
            however many edges take it (Flink's ``numRecordsOut``).
        late_records_dropped: records dropped for arriving behind the watermark.
        errors: records that failed in user code and were skipped or dead-lettered by an error
            policy (a failure that stops the job is not counted here).
        input_watermark: the last watermark the operator received.
        output_watermark: the last watermark the operator emitted.
        connector: what the operator's source reader or sink writer reports.
    """

    __slots__ = (
        "connector",
        "errors",
        "input_watermark",
        "late_records_dropped",
        "output_watermark",
        "records_in",
        "records_out",
    )

    def __init__(self) -> None:
        self.records_in = Counter()
        self.records_out = Counter()
        self.late_records_dropped = Counter()
        self.errors = Counter()
        # replaced by the chain builder with the gauges of the outputs around the operator
        self.input_watermark = WatermarkGauge()
        self.output_watermark = WatermarkGauge()
        self.connector = ConnectorMetricGroup()


class TaskMetrics:
    """Time accounting and I/O counts of one task (one subtask of a chain).

    Busy time is derived: wall time since start minus idle and back-pressured time, as Flink's
    ``busyTimeMsPerSecond`` = 1000 - idle - back-pressured.

    Attributes:
        idle_ns: time spent waiting for input.
        backpressured_ns: time spent waiting for output space (channels, sinks).
        records_out: records written to the task's out-edges (one count per edge a record takes).
        start_ns / end_ns: ``time.perf_counter_ns()`` at start and end (``end_ns`` 0 while running).
    """

    __slots__ = ("backpressured_ns", "end_ns", "idle_ns", "records_out", "start_ns")

    def __init__(self) -> None:
        self.idle_ns = 0
        self.backpressured_ns = 0
        self.records_out = Counter()
        self.start_ns = 0
        self.end_ns = 0

    def busy_ns(self) -> int:
        """Time spent working: elapsed minus idle minus back-pressured."""
        if not self.start_ns:
            return 0
        end = self.end_ns or time.perf_counter_ns()
        return max(0, end - self.start_ns - self.idle_ns - self.backpressured_ns)
