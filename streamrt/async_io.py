"""Async I/O: what ``DataStream.map_async`` calls, and its options.

Port of Flink's ``AsyncFunction``/``RichAsyncFunction`` and the settings of
``AsyncDataStream.orderedWait``/``unorderedWait``, the Python way: the function is an
``async def`` that *returns* its result (Flink's passes a ``ResultFuture``), ``open``/``close``
are coroutines too (so a function can make and close an ``aiohttp.ClientSession``), and retries
are a count with a fixed delay (Flink's ``AsyncRetryStrategies.FixedDelayRetryStrategy``).

Everything here is decided once, when the job is built: whether ``fn`` is a coroutine function,
whether an ``AsyncFunction`` overrides ``timeout``, and whether the options are in range.
"""

from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from streamrt.errors import GraphError
from streamrt.functions import RuntimeContext

__all__ = ["AsyncFunction", "AsyncOptions", "async_function_factory"]

IN = TypeVar("IN")
OUT = TypeVar("OUT")

#: ``fn(value)`` for ``map_async``: an ``async def`` returning the result.
AsyncCallable = Callable[[Any], Coroutine[Any, Any, Any]]


class AsyncFunction(ABC, Generic[IN, OUT]):
    """A function that looks something up for every value, concurrently (Flink's ``AsyncFunction``).

    Subclass it when the lookup needs a client made once per subtask (in ``open``) and closed
    at the end (in ``close``), or a fallback for requests that time out. Each parallel subtask
    gets its own copy. ``open``, ``close`` and ``timeout`` may also be plain ``def``s (as in
    PyFlink); ``async_invoke`` must be an ``async def``. It runs as an asyncio task beside the
    job's record path: it may await anything, but must not touch the operator's state.
    """

    async def open(self, runtime_context: RuntimeContext) -> None:
        """Prepare the subtask's resources (e.g. an ``aiohttp.ClientSession``)."""

    @abstractmethod
    async def async_invoke(self, value: IN) -> OUT:
        """Return the result for ``value`` (with ``flat=True``: an iterable of results)."""

    async def timeout(self, value: IN) -> OUT:
        """The result when ``value``'s request did not finish within ``timeout_ms``.

        Not overriding it (the default) makes a timeout a failure of the record, handled by the
        operator's ``on_error`` policy. An override returns a fallback result instead, or
        raises to fail the record with its own error.
        """
        raise NotImplementedError  # never called: the operator checks for an override

    async def close(self) -> None:
        """Release the subtask's resources; runs once, also after a failure."""


def _overrides_timeout(function: AsyncFunction[Any, Any]) -> bool:
    return type(function).timeout is not AsyncFunction.timeout


@dataclass(frozen=True, slots=True)
class AsyncOptions:
    """The settings of one ``map_async`` operator, validated once (see ``map_async``).

    Raises:
        GraphError: a setting is of the wrong type or out of range.
    """

    capacity: int = 100
    ordered: bool = True
    timeout_ms: int | None = None
    retries: int = 0
    retry_delay_ms: int = 100
    flat: bool = False

    def __post_init__(self) -> None:
        _check_int("capacity", self.capacity, 1)
        _check_int("retries", self.retries, 0)
        _check_int("retry_delay_ms", self.retry_delay_ms, 0)
        if self.timeout_ms is not None:
            _check_int("timeout_ms", self.timeout_ms, 1, hint="; or None for no timeout")
        for name in ("ordered", "flat"):
            if not isinstance(getattr(self, name), bool):
                msg = f"map_async() {name} must be True or False; got {getattr(self, name)!r}"
                raise GraphError(msg)


def _check_int(name: str, value: object, minimum: int, *, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"map_async() {name} must be an int >= {minimum}{hint}; got {value!r}"
        raise GraphError(msg)


def _is_coroutine_function(function: object) -> bool:
    if inspect.iscoroutinefunction(function):
        return True
    # a callable object whose __call__ is an ``async def``
    call = getattr(type(function), "__call__", None)  # noqa: B004  (the class's, not the object's)
    return call is not None and inspect.iscoroutinefunction(call)


def async_function_factory(
    function: AsyncFunction[Any, Any] | AsyncCallable,
) -> Callable[[], AsyncFunction[Any, Any] | AsyncCallable]:
    """Check ``function`` for ``map_async`` and return a factory of one copy per subtask.

    An ``AsyncFunction`` is copied for each subtask (as Flink serializes one per subtask); an
    ``async def`` is shared.

    Raises:
        GraphError: ``function`` is neither an ``async def`` nor an ``AsyncFunction`` (whose
            ``async_invoke`` must be an ``async def``), or cannot be copied.
    """
    if isinstance(function, AsyncFunction):
        kind = type(function).__name__
        if not inspect.iscoroutinefunction(function.async_invoke):
            msg = (
                f"map_async() needs {kind}.async_invoke to be an `async def`; it is a plain "
                "function (write `async def async_invoke(self, value): ...`)"
            )
            raise GraphError(msg)
        try:
            copy.deepcopy(function)
        except Exception as exc:
            msg = (
                f"the AsyncFunction {kind} cannot be copied for each subtask: "
                f"{type(exc).__name__}: {exc}; create clients and sessions in open() instead"
            )
            raise GraphError(msg) from exc
        return lambda: copy.deepcopy(function)
    if not _is_coroutine_function(function):
        what = "a plain function" if callable(function) else "not callable"
        msg = (
            "map_async() needs an `async def` function of the value or an AsyncFunction; got "
            f"{function!r} ({what}; a blocking call would stall the task: write "
            "`async def lookup(value): ...`, or use map() for work that does not wait)"
        )
        raise GraphError(msg)
    return lambda: function


def invoker_of(function: AsyncFunction[Any, Any] | AsyncCallable) -> AsyncCallable:
    """The coroutine function to call per value (decided once per operator)."""
    if isinstance(function, AsyncFunction):
        return function.async_invoke
    return function


def timeout_fallback_of(
    function: AsyncFunction[Any, Any] | AsyncCallable,
) -> Callable[[Any], Any] | None:
    """The ``timeout`` override of an ``AsyncFunction``, or ``None`` (a timeout is an error)."""
    if isinstance(function, AsyncFunction) and _overrides_timeout(function):
        return function.timeout
    return None
