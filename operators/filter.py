"""Port of Flink's ``StreamFilter``: forwards the records whose value passes a predicate."""

from __future__ import annotations

from typing import Any, TypeVar

from operators.base import AbstractUdfStreamOperator
from streamrt.functions import FilterFunction, function_callable
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.outputs.output import Output

__all__ = ["FilterOperator"]

T = TypeVar("T")


class FilterOperator(AbstractUdfStreamOperator[T, T, Any]):
    """Keeps values for which ``predicate(value)`` is truthy."""

    needs_key_context = True  # a Function may use keyed state on a keyed stream

    def __init__(self, function: Any) -> None:
        super().__init__(function)
        self._predicate = function_callable(function, FilterFunction, "filter")

    def setup(self, context: OperatorContext, output: Output[T]) -> None:
        """Bind the output's ``collect`` once."""
        super().setup(context, output)
        self._collect = output.collect

    def process_element(self, record: StreamRecord[T]) -> None:
        """Emit the record unchanged if the predicate holds."""
        try:
            keep = self._predicate(record.value)
        except Exception as exc:  # zero-cost until raised; the policy decides
            self.on_user_error(exc, record)
            return
        if keep:
            self._collect(record)
