"""Port of Flink's ``CoStreamMap`` and ``CoStreamFlatMap``: a map or flat map per input.

On keyed connected streams each record's key, from its own input's key selector, is the current
key while the function runs, so ``map1``/``map2`` share the keyed state of that key (Flink sets
the key context per input before calling the operator). Decided once in ``setup``: non-keyed
inputs keep the bare methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from operators.two_input import AbstractTwoInputStreamOperator
from streamrt.co_functions import CoFlatMapFunction, CoMapFunction
from streamrt.errors import GraphError
from streamrt.runtime.elements import StreamRecord
from streamrt.runtime.operator import OperatorContext
from streamrt.runtime.outputs.output import Output
from streamrt.runtime.outputs.timestamped import TimestampedCollector

__all__ = ["CoFlatMapOperator", "CoMapOperator"]

OUT = TypeVar("OUT")


class CoMapOperator(AbstractTwoInputStreamOperator[OUT, CoMapFunction[Any, Any, OUT]]):
    """Emits ``map1(value)`` for the first input, ``map2(value)`` for the second.

    Raises:
        GraphError: ``function`` is not a ``CoMapFunction``; in ``setup``, only one input
            is keyed.
    """

    needs_key_context = True  # map1/map2 may use keyed state on keyed connected streams

    def __init__(self, function: CoMapFunction[Any, Any, OUT]) -> None:
        if not isinstance(function, CoMapFunction):
            msg = f"ConnectedStreams.map() needs a CoMapFunction (map1/map2); got {function!r}"
            raise GraphError(msg)
        super().__init__(function)
        self._map1 = function.map1
        self._map2 = function.map2

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Bind the output's ``collect`` once."""
        super().setup(context, output)
        self._collect = output.collect

    def _map(self, fn: Callable[[Any], OUT], record: StreamRecord[Any]) -> None:
        try:
            value = fn(record.value)
        except Exception as exc:  # the policy decides
            self.on_user_error(exc, record)
            return
        record.value = value
        self._collect(record)

    def process_element1(self, record: StreamRecord[Any]) -> None:
        """Emit ``map1(value)`` with the record's timestamp."""
        self._map(self._map1, record)

    def process_element2(self, record: StreamRecord[Any]) -> None:
        """Emit ``map2(value)`` with the record's timestamp."""
        self._map(self._map2, record)


class CoFlatMapOperator(AbstractTwoInputStreamOperator[OUT, CoFlatMapFunction[Any, Any, OUT]]):
    """Emits every value ``flat_map1``/``flat_map2`` returns or yields, with the timestamp.

    Raises:
        GraphError: ``function`` is not a ``CoFlatMapFunction``; in ``setup``, only one
            input is keyed.
    """

    needs_key_context = True  # flat_map1/flat_map2 may use keyed state on keyed streams

    def __init__(self, function: CoFlatMapFunction[Any, Any, OUT]) -> None:
        if not isinstance(function, CoFlatMapFunction):
            msg = (
                "ConnectedStreams.flat_map() needs a CoFlatMapFunction (flat_map1/flat_map2); "
                f"got {function!r}"
            )
            raise GraphError(msg)
        super().__init__(function)
        self._flat_map1 = function.flat_map1
        self._flat_map2 = function.flat_map2

    def setup(self, context: OperatorContext, output: Output[OUT]) -> None:
        """Wrap the output in a ``TimestampedCollector``."""
        super().setup(context, output)
        self._collector = TimestampedCollector(output)

    def _flat_map(
        self, fn: Callable[[Any], Iterable[OUT] | None], record: StreamRecord[Any]
    ) -> None:
        collector = self._collector
        collector.timestamp = record.timestamp
        collect = collector.collect
        try:
            for value in _iterable(fn(record.value)):  # a generator runs user code
                collect(value)
        except Exception as exc:  # downstream OperatorErrors pass through
            self.on_user_error(exc, record)

    def process_element1(self, record: StreamRecord[Any]) -> None:
        """Emit what ``flat_map1(value)`` gives."""
        self._flat_map(self._flat_map1, record)

    def process_element2(self, record: StreamRecord[Any]) -> None:
        """Emit what ``flat_map2(value)`` gives."""
        self._flat_map(self._flat_map2, record)


def _iterable(result: Iterable[OUT] | None) -> Iterable[OUT]:
    if result is None:
        msg = "the flat_map function returned None; it must return or yield an iterable"
        raise TypeError(msg)
    return result
