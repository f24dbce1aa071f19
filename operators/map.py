"""Port of Flink's ``StreamMap``: one value in, one out, record rewritten in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from operators.base import AbstractUdfStreamOperator
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.outputs.output import Output

__all__ = ["MapOperator"]

IN = TypeVar("IN")
OUT = TypeVar("OUT")


class MapOperator(AbstractUdfStreamOperator[IN, OUT, Any]):
    """Applies ``fn`` to each value.

    Args:
        fn: the user function, a callable or a ``MapFunction``.
    """

    def __init__(self, fn: Callable[[IN], OUT], function: Any = None) -> None:
        super().__init__(function if function is not None else fn)
        self._fn = fn

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Bind the output's ``collect`` once."""
        super().setup(context, output)
        self._collect = output.collect

    def process_element(self, record: StreamRecord[IN]) -> None:
        """Replace the value with ``fn(value)`` and emit the same record."""
        try:
            value = self._fn(record.value)
        except Exception as exc:  # zero-cost until raised; the policy decides
            self.on_user_error(exc, record)
            return
        record.value = value  # type: ignore[assignment]
        self._collect(record)  # type: ignore[arg-type]
