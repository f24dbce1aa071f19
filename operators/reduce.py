"""Port of Flink's ``StreamGroupedReduceOperator``: a rolling reduce per key.

The first value of a key is stored and emitted as is; each later value is combined with the
stored one (``fn(stored, new)``), stored, and emitted. The stored value lives in keyed state, so
it is part of checkpoints.
"""

from __future__ import annotations

from typing import Any, TypeVar

from operators.base import AbstractUdfStreamOperator
from streamrt.functions import ReduceFunction, function_callable
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.outputs.output import Output

__all__ = ["ReduceOperator"]

T = TypeVar("T")
_ABSENT: Any = object()


class ReduceOperator(AbstractUdfStreamOperator[T, T, Any]):
    """Rolling ``reduce`` on a keyed stream."""

    def __init__(self, function: Any) -> None:
        super().__init__(function)
        self._fn = function_callable(function, ReduceFunction, "reduce")

    def setup(self, context: OperatorContext, output: Output[T]) -> None:
        """Bind the key selector and output once."""
        super().setup(context, output)
        assert context.key_selector is not None, "reduce runs on a keyed stream"
        self._key_of = context.key_selector
        self._collect = output.collect

    async def open(self) -> None:
        """Bind the state table (after a restore has replaced it)."""
        await super().open()
        assert self.state_backend is not None
        self._table = self.state_backend.table("reduce", "value")

    def process_element(self, record: StreamRecord[T]) -> None:
        """Combine with the key's stored value, store, and emit the result."""
        value = record.value
        key = self._key_of(value)
        table = self._table
        stored = table.get(key, _ABSENT)
        if stored is not _ABSENT:
            try:
                value = self._fn(stored, value)
            except Exception as exc:  # the stored value stays as it was
                self.on_user_error(exc, record)
                return
            record.value = value
        table[key] = value
        self._collect(record)
