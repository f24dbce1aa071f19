"""Combines the watermarks and idleness of a task's input channels into one.

Port of Flink's ``StatusWatermarkValve``: per channel the last watermark (monotonic), the
status (ACTIVE/IDLE) and whether it is *aligned* (counted in the minimum). The output watermark
is the minimum over aligned active channels and never goes backwards. When every channel is
idle the valve flushes the maximum watermark (if the channel going idle held the minimum) and
then emits IDLE; a channel that comes back rejoins the minimum only once it has caught up.
Differences: a channel that has ended (``EndOfInput``) counts as idle, so a finished producer
never holds back event time. Channels are few, so the minimum is a scan, not a heap.
"""

from __future__ import annotations

from typing import Protocol

from streamrt.runtime.elements import MIN_WATERMARK, Watermark, WatermarkStatus

__all__ = ["StatusWatermarkValve", "ValveOutput"]


class ValveOutput(Protocol):
    """Where the valve sends what it decides."""

    def emit_watermark(self, watermark: Watermark, /) -> None:
        """The combined watermark advanced."""
        ...

    def emit_watermark_status(self, status: WatermarkStatus, /) -> None:
        """The combined status flipped."""
        ...


class _Channel:
    __slots__ = ("active", "aligned", "watermark")

    def __init__(self) -> None:
        self.watermark = MIN_WATERMARK
        self.active = True
        self.aligned = True


class StatusWatermarkValve:
    """Watermark alignment over ``num_channels`` input channels."""

    def __init__(self, num_channels: int) -> None:
        self._channels = [_Channel() for _ in range(num_channels)]
        self.last_output_watermark = MIN_WATERMARK
        self.last_output_status = WatermarkStatus.ACTIVE

    def input_watermark(self, watermark: Watermark, channel: int, output: ValveOutput) -> None:
        """A watermark arrived on ``channel``."""
        ch = self._channels[channel]
        if self.last_output_status is not WatermarkStatus.ACTIVE or not ch.active:
            return
        if watermark.timestamp <= ch.watermark:
            return  # per-channel watermarks only rise
        ch.watermark = watermark.timestamp
        if not ch.aligned and ch.watermark >= self.last_output_watermark:
            ch.aligned = True
        self._emit_new_min(output)

    def input_watermark_status(
        self, status: WatermarkStatus, channel: int, output: ValveOutput
    ) -> None:
        """``channel`` went idle or active."""
        ch = self._channels[channel]
        if status is WatermarkStatus.IDLE and ch.active:
            ch.active = False
            ch.aligned = False
            if not any(c.active for c in self._channels):
                # everything idle: flush the highest watermark if this channel held the minimum
                if ch.watermark == self.last_output_watermark:
                    self._emit_max(output)
                self.last_output_status = WatermarkStatus.IDLE
                output.emit_watermark_status(WatermarkStatus.IDLE)
            elif ch.watermark == self.last_output_watermark:
                self._emit_new_min(output)
        elif status is WatermarkStatus.ACTIVE and not ch.active:
            ch.active = True
            if ch.watermark >= self.last_output_watermark:
                ch.aligned = True
            if self.last_output_status is WatermarkStatus.IDLE:
                self.last_output_status = WatermarkStatus.ACTIVE
                output.emit_watermark_status(WatermarkStatus.ACTIVE)

    def channel_finished(self, channel: int, output: ValveOutput) -> None:
        """``channel`` has ended; it no longer holds event time back."""
        self.input_watermark_status(WatermarkStatus.IDLE, channel, output)

    def _emit_new_min(self, output: ValveOutput) -> None:
        aligned = [c.watermark for c in self._channels if c.aligned and c.active]
        if aligned:
            new_min = min(aligned)
            if new_min > self.last_output_watermark:
                self.last_output_watermark = new_min
                output.emit_watermark(Watermark(new_min))

    def _emit_max(self, output: ValveOutput) -> None:
        new_max = max(c.watermark for c in self._channels)
        if new_max > self.last_output_watermark:
            self.last_output_watermark = new_max
            output.emit_watermark(Watermark(new_max))

    def channel_watermarks(self) -> list[int]:
        """Each channel's last watermark (for statistics and tests)."""
        return [c.watermark for c in self._channels]
