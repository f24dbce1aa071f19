"""TwoInputOperatorHarness: one two-input operator, each input's records and watermarks in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self, cast

from streamrt.runtime.elements import StreamRecord, Watermark, WatermarkStatus
from streamrt.runtime.operator import TwoInputStreamOperator
from streamrt.testing.harness import OperatorHarness

__all__ = ["TwoInputOperatorHarness"]


class TwoInputOperatorHarness(OperatorHarness[Any]):
    """Drives a two-input operator (Flink's ``TwoInputStreamOperatorTestHarness``).

    Args:
        operator: the operator under test (a fresh instance).
        key_selector1 / key_selector2: make it keyed (both, or neither).
    """

    def __init__(
        self,
        operator: TwoInputStreamOperator[Any, Any],
        *,
        key_selector1: Callable[[Any], Any] | None = None,
        key_selector2: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            operator, key_selector=key_selector1, key_selector2=key_selector2, **kwargs
        )

    async def open(self) -> Self:
        """Open the operator; returns the harness."""
        await self.operator.open()
        return self

    @property
    def _op(self) -> TwoInputStreamOperator[Any, Any]:
        return cast("TwoInputStreamOperator[Any, Any]", self.operator)

    def process_element1(self, value: Any, timestamp: int | None = None) -> None:
        """Push one record into the first input."""
        self._op.process_element1(StreamRecord(value, timestamp))

    def process_element2(self, value: Any, timestamp: int | None = None) -> None:
        """Push one record into the second input."""
        self._op.process_element2(StreamRecord(value, timestamp))

    def process_watermark1(self, timestamp: int) -> None:
        """Advance the first input's watermark."""
        self._op.process_watermark1(Watermark(timestamp))

    def process_watermark2(self, timestamp: int) -> None:
        """Advance the second input's watermark."""
        self._op.process_watermark2(Watermark(timestamp))

    def process_watermark_status1(self, status: WatermarkStatus) -> None:
        """Mark the first input idle or active."""
        self._op.process_watermark_status1(status)

    def process_watermark_status2(self, status: WatermarkStatus) -> None:
        """Mark the second input idle or active."""
        self._op.process_watermark_status2(status)
