"""Port of Flink's ``StreamFlatMap``: each value becomes any number of values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from operators.base import AbstractUdfStreamOperator
from streamrt.functions import FlatMapFunction, function_callable
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.outputs.output import Output

__all__ = ["FlatMapOperator"]

IN = TypeVar("IN")
OUT = TypeVar("OUT")


class FlatMapOperator(AbstractUdfStreamOperator[IN, OUT, Any]):
    """Emits every value of the iterable ``fn(value)`` returns, with the input's timestamp."""

    needs_key_context = True  # a Function may use keyed state on a keyed stream

    def __init__(self, function: Any) -> None:
        super().__init__(function)
        self._fn = function_callable(function, FlatMapFunction, "flat_map")

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Bind the output's ``collect`` once; emits go through one reused record."""
        super().setup(context, output)
        self._collect = output.collect
        self._emitted: StreamRecord[Any] = StreamRecord(None)

    def process_element(self, record: StreamRecord[IN]) -> None:
        """Emit each value ``fn`` returns (or yields)."""
        timestamp = record.timestamp
        emitted = self._emitted
        collect = self._collect
        try:
            # each value goes straight into the emitted record, held by nothing else, so the
            # next output sees whether the function kept it (TimestampedCollector does likewise)
            for emitted.value in _iterable(self._fn(record.value)):  # user code runs here
                emitted.timestamp = timestamp
                collect(emitted)
        except Exception as exc:  # downstream OperatorErrors pass through
            self.on_user_error(exc, record)


def _iterable(result: Iterable[OUT] | None) -> Iterable[OUT]:
    if result is None:
        msg = "the flat_map function returned None; it must return or yield an iterable"
        raise TypeError(msg)
    return result
