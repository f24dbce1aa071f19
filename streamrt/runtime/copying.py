"""Deep copies of record values, fast for the shapes records usually have.

Flink copies a value with its type serializer's ``copy()`` whenever object reuse is off. Python
has no serializer per type, so ``copy_value`` dispatches on the runtime type: immutable atoms are
returned as they are, JSON-like dicts and lists are copied with C-speed checks, and anything else
falls back to ``copy.deepcopy``. Register your own immutable classes (frozen dataclasses of
atoms, say) with ``register_immutable_type`` to skip the copy for them.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

__all__ = ["ATOMS", "copy_value", "register_copier", "register_immutable_type"]

T = TypeVar("T")

# Types whose instances cannot change; a copy of one is the object itself.
ATOMS: set[type] = {
    int,
    float,
    complex,
    str,
    bytes,
    bool,
    type(None),
    range,
    decimal.Decimal,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    UUID,
}


# Types with a copy function of their own (exact type match).
_COPIERS: dict[type, Callable[[Any], Any]] = {}


def register_copier(cls: type[T], copier: Callable[[T], T]) -> None:
    """Copy instances of exactly ``cls`` with ``copier`` instead of ``copy.deepcopy``."""
    _COPIERS[cls] = copier


def register_immutable_type(cls: type[T]) -> type[T]:
    """Declare that instances of ``cls`` are never mutated, so copies can share them.

    Usable as a class decorator. Only do this for classes that are deeply immutable (for
    example a frozen dataclass whose fields are all atoms or other immutable types).
    """
    ATOMS.add(cls)
    return cls


def copy_value(value: T) -> T:
    """Return a deep copy of ``value`` that shares only immutable parts with it."""
    atoms = ATOMS
    t = type(value)
    if t in atoms:
        return value
    if t is dict:
        d: dict[Any, Any] = value  # type: ignore[assignment]
        # all values atoms: one C-level pass decides, then a C-level shallow copy suffices
        if atoms.issuperset(map(type, d.values())):
            return d.copy()  # type: ignore[return-value]
        return {k: copy_value(x) for k, x in d.items()}  # type: ignore[return-value]
    if t is list:
        lst: list[Any] = value  # type: ignore[assignment]
        if atoms.issuperset(map(type, lst)):
            return lst.copy()  # type: ignore[return-value]
        return [copy_value(x) for x in lst]  # type: ignore[return-value]
    if t is tuple:
        tup: tuple[Any, ...] = value  # type: ignore[assignment]
        if atoms.issuperset(map(type, tup)):
            return value
        return tuple(copy_value(x) for x in tup)  # type: ignore[return-value]
    copier = _COPIERS.get(t)
    if copier is not None:
        return copier(value)  # type: ignore[no-any-return]
    if isinstance(value, enum.Enum):  # members are singletons
        return value
    return copy.deepcopy(value)
