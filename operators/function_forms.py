"""The two forms of a user function's emitting methods, adapted to one.

Ours (canonical) takes a trailing collector: ``process_element(value, ctx, out)`` emitting with
``out.collect(v)``. PyFlink's takes no collector and yields (or returns an iterable of) values,
with ``(output_tag, value)`` pairs for side outputs: ``process_element(value, ctx)``. The
operators call every such method in the collector form; ``collector_form`` decides once, from
the signature, whether a method needs wrapping, so a record pays nothing for the check.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from streamrt.runtime.output_tag import OutputTag

__all__ = ["collector_form"]


def _positional_count(method: Callable[..., Any]) -> int | None:
    """How many positional parameters ``method`` has; ``None`` if unreadable or ``*args``."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):  # no signature to read: the canonical form
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def _emit(results: Iterable[Any] | None, out: Any) -> None:
    """Send what a PyFlink-form method returned or yielded to ``out``."""
    if results is None:
        return
    for item in results:
        if type(item) is tuple and len(item) == 2 and isinstance(item[0], OutputTag):
            out.collect_side(item[0], item[1])
        else:
            out.collect(item)


def collector_form(method: Callable[..., Any], arity: int) -> Callable[..., None]:
    """``method`` taking its ``arity`` inputs and then ``out``, whichever form it is written in.

    A method with exactly ``arity`` positional parameters is PyFlink's form and is wrapped;
    any other (including one whose signature cannot be read) is returned as is.
    """
    if _positional_count(method) != arity:
        return method
    # a fixed-arity wrapper per common arity: ``*args`` packing costs more than the loop
    if arity == 2:

        def emitting2(first: Any, second: Any, out: Any) -> None:
            _emit(method(first, second), out)

        return emitting2
    if arity == 3:

        def emitting3(first: Any, second: Any, third: Any, out: Any) -> None:
            _emit(method(first, second, third), out)

        return emitting3

    def emitting(*args: Any) -> None:
        _emit(method(*args[:-1]), args[-1])

    return emitting
