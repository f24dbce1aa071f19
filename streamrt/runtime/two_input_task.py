"""A task whose head operator has two inputs.

Port of Flink's ``TwoInputStreamTask`` (``StreamTwoInputProcessor``). One input gate holds the
channels of both inputs, so barriers align across all of them and the task ends when every
channel of both inputs has ended. Which input a channel feeds is fixed at deployment: a list
indexed by channel, read once per buffer (never per record). Each input has its own
``StatusWatermarkValve``: the first input's combined watermark and status go to the head's
``process_watermark1``/``process_watermark_status1``, the second's to ``...2``; the operator
takes the minimum of the two (Flink's ``AbstractStreamOperator.processWatermark1/2``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from streamrt.runtime.channel import LocalChannel
from streamrt.runtime.counters import WatermarkGauge
from streamrt.runtime.elements import EndOfInput, StreamRecord, Watermark, WatermarkStatus
from streamrt.runtime.external_channel import ExternalChannelPump
from streamrt.runtime.input_task import InputTask
from streamrt.runtime.operator import TwoInputStreamOperator, raise_operator_failure
from streamrt.runtime.task import TaskDeployment
from streamrt.runtime.watermark_valve import StatusWatermarkValve

__all__ = ["TwoInputTask"]


class _InputOfHead:
    """What one input's valve emits into: the head's watermark methods for that input."""

    __slots__ = ("_combined", "_other", "_process_status", "_process_watermark", "_task", "gauge")

    def __init__(self, task: TwoInputTask, number: int, combined: WatermarkGauge) -> None:
        head = cast("TwoInputStreamOperator[Any, Any]", task.chain.head)
        self._task = task
        self._process_watermark = (
            head.process_watermark1 if number == 1 else head.process_watermark2
        )
        self._process_status = (
            head.process_watermark_status1 if number == 1 else head.process_watermark_status2
        )
        self.gauge = WatermarkGauge()
        self._combined = combined
        self._other = self.gauge  # set to the other input's gauge once both exist

    def pair(self, other: _InputOfHead) -> None:
        self._other = other.gauge

    def emit_watermark(self, watermark: Watermark) -> None:
        self.gauge.value = watermark.timestamp
        # the operator's input watermark is the minimum of its inputs' (Flink's MinWatermarkGauge)
        self._combined.value = min(watermark.timestamp, self._other.value)
        try:
            self._process_watermark(watermark)
        except Exception as exc:
            raise_operator_failure(self._task.chain.head_context, exc, " on a watermark")

    def emit_watermark_status(self, status: WatermarkStatus) -> None:
        try:
            self._process_status(status)
        except Exception as exc:
            raise_operator_failure(self._task.chain.head_context, exc)


class TwoInputTask(InputTask):
    """Runs a chain whose head is a ``TwoInputStreamOperator``.

    Args:
        channels: every channel into this subtask, in gate order.
        input_numbers: for each channel, the input it feeds (1 or 2).
    """

    def __init__(
        self,
        deployment: TaskDeployment,
        channels: Sequence[LocalChannel],
        input_numbers: Sequence[int],
        *,
        pumps: Sequence[ExternalChannelPump] = (),
    ) -> None:
        super().__init__(deployment, channels, pumps=pumps)
        if len(input_numbers) != len(channels) or not set(input_numbers) <= {1, 2}:
            msg = f"input numbers {list(input_numbers)} do not match the channels of {self!r}"
            raise ValueError(msg)
        #: per channel index: whether it feeds the first input
        self._is_first = [number == 1 for number in input_numbers]
        # per channel index: its index within its own input's valve
        seen = [0, 0, 0]
        self._valve_index: list[int] = []
        for number in input_numbers:
            self._valve_index.append(seen[number])
            seen[number] += 1
        self.valves = (StatusWatermarkValve(seen[1]), StatusWatermarkValve(seen[2]))
        combined = WatermarkGauge()
        first, second = _InputOfHead(self, 1, combined), _InputOfHead(self, 2, combined)
        first.pair(second)
        second.pair(first)
        self._inputs = (first, second)
        self.chain.head_context.metrics.input_watermark = combined

    @property
    def input_watermark_gauges(self) -> tuple[WatermarkGauge, WatermarkGauge]:
        """The last combined watermark of each input (Flink's input1/input2 watermark gauges)."""
        return self._inputs[0].gauge, self._inputs[1].gauge

    def _element_processors(self) -> list[Callable[[StreamRecord[Any]], None]]:
        """Per channel index, ``process_element1`` or ``process_element2`` of the head."""
        head = cast("TwoInputStreamOperator[Any, Any]", self.chain.head)
        process1, process2 = head.process_element1, head.process_element2
        return [process1 if first else process2 for first in self._is_first]

    async def _handle_control(self, index: int, message: Any) -> None:
        kind = type(message)
        number = 0 if self._is_first[index] else 1
        if kind is Watermark:
            self.valves[number].input_watermark(
                message, self._valve_index[index], self._inputs[number]
            )
        elif message is EndOfInput:
            self.gate.mark_finished(index)
            self.valves[number].channel_finished(self._valve_index[index], self._inputs[number])
            await self._maybe_complete_alignment()
        elif kind is WatermarkStatus:
            self.valves[number].input_watermark_status(
                message, self._valve_index[index], self._inputs[number]
            )
        else:  # barriers and latency markers: as for one input
            await super()._handle_control(index, message)
