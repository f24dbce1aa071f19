"""Port of Flink's ``StreamMap``: one value in, one out, record rewritten in place."""

from __future__ import annotations

from typing import Any, TypeVar

from operators.base import AbstractUdfStreamOperator
from streamrt.functions import MapFunction, function_callable
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.outputs.output import Output

__all__ = ["MapOperator"]

IN = TypeVar("IN")
OUT = TypeVar("OUT")


class MapOperator(AbstractUdfStreamOperator[IN, OUT, Any]):
    """Applies ``fn`` to each value.

    Args:
        function: the user function, a callable or a ``MapFunction``.
    """

    needs_key_context = True  # a Function may use keyed state on a keyed stream

    def __init__(self, function: Any) -> None:
        super().__init__(function)
        self._fn = function_callable(function, MapFunction, "map")

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Bind the output's ``collect`` once."""
        super().setup(context, output)
        self._collect = output.collect

    def process_element(self, record: StreamRecord[IN]) -> None:
        """Replace the value with ``fn(value)`` and emit the same record."""
        try:
            # no local keeps the result: the next output's copy check counts its holders
            record.value = self._fn(record.value)
        except Exception as exc:  # zero-cost until raised; the policy decides
            self.on_user_error(exc, record)
            return
        self._collect(record)  # type: ignore[arg-type]
