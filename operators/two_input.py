"""Base of two-input operators: event time is the minimum of the two inputs' watermarks.

Port of the two-input half of Flink's ``AbstractStreamOperator`` (``processWatermark1/2``,
``processWatermarkStatus1/2`` over an ``IndexedCombinedWatermarkStatus``): each input's last
watermark and idleness are kept; the combined watermark is the minimum over the inputs that
are not idle, and when it rises the operator's ``process_watermark`` runs (timers fire, then
the watermark is forwarded). The operator goes idle downstream when both inputs are idle.

On keyed connected streams an operator that says ``needs_key_context`` gets each record's key,
from its own input's key selector, set as the current key before its ``process_element1/2``
runs (Flink's ``setKeyContextElement1/2``); the wrapping is decided once, in ``setup``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from operators.base import AbstractUdfStreamOperator
from streamrt.errors import GraphError
from streamrt.runtime.elements import MIN_WATERMARK, StreamRecord, Watermark, WatermarkStatus
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.state import KeyedStateBackend

__all__ = ["AbstractTwoInputStreamOperator"]

IN1 = TypeVar("IN1")
IN2 = TypeVar("IN2")
OUT = TypeVar("OUT")
F = TypeVar("F")


class AbstractTwoInputStreamOperator(AbstractUdfStreamOperator[Any, OUT, F], Generic[OUT, F]):
    """Combines the two inputs' watermarks and statuses; subclasses handle the elements."""

    def __init__(self, function: F) -> None:
        super().__init__(function)
        self._input_watermarks = [MIN_WATERMARK, MIN_WATERMARK]
        self._input_idle = [False, False]

    def set_key_context(self, backend: KeyedStateBackend, context: OperatorContext) -> None:
        """Wrap ``process_element1``/``process_element2``: each sets its record's key first.

        Raises:
            GraphError: only one of the two inputs is keyed.
        """
        key1, key2 = context.key_selector, context.key_selector2
        if key1 is None or key2 is None:
            msg = f"operator {context.name!r}: either both inputs are keyed or neither is"
            raise GraphError(msg)
        self.process_element1 = _keyed(backend, key1, self.process_element1)  # type: ignore[method-assign,assignment]
        self.process_element2 = _keyed(backend, key2, self.process_element2)  # type: ignore[method-assign,assignment]

    def process_element(self, record: StreamRecord[Any]) -> None:
        """Never called: the task calls ``process_element1``/``process_element2``."""
        msg = f"{type(self).__name__} has two inputs; use process_element1/process_element2"
        raise TypeError(msg)

    def process_element1(self, record: StreamRecord[Any]) -> None:
        """Handle a record of the first input."""
        raise NotImplementedError

    def process_element2(self, record: StreamRecord[Any]) -> None:
        """Handle a record of the second input."""
        raise NotImplementedError

    def process_watermark1(self, watermark: Watermark) -> None:
        """The first input's watermark advanced."""
        self._input_watermarks[0] = watermark.timestamp
        self._advance()

    def process_watermark2(self, watermark: Watermark) -> None:
        """The second input's watermark advanced."""
        self._input_watermarks[1] = watermark.timestamp
        self._advance()

    def process_watermark_status1(self, status: WatermarkStatus) -> None:
        """The first input went idle or active."""
        self._status(0, status)

    def process_watermark_status2(self, status: WatermarkStatus) -> None:
        """The second input went idle or active."""
        self._status(1, status)

    @property
    def input_watermarks(self) -> tuple[int, int]:
        """The last watermark of each input."""
        return self._input_watermarks[0], self._input_watermarks[1]

    def _advance(self) -> None:
        # the minimum over the inputs that are not idle; nothing moves while both are idle
        active = [
            w for w, idle in zip(self._input_watermarks, self._input_idle, strict=True) if not idle
        ]
        if active:
            combined = min(active)
            if combined > self.current_watermark:
                self.process_watermark(Watermark(combined))

    def _status(self, index: int, status: WatermarkStatus) -> None:
        idle = status is WatermarkStatus.IDLE
        if self._input_idle[index] == idle:
            return
        was_idle = all(self._input_idle)
        self._input_idle[index] = idle
        self._advance()  # an input going idle no longer holds the other one back
        if was_idle != all(self._input_idle):
            self.output.emit_watermark_status(status)


def _keyed(
    backend: KeyedStateBackend,
    key_of: Callable[[Any], Any],
    process: Callable[[StreamRecord[Any]], None],
) -> Callable[[StreamRecord[Any]], None]:
    def process_keyed(record: StreamRecord[Any]) -> None:
        backend.current_key = key_of(record.value)
        process(record)

    return process_keyed
