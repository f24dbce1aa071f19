"""Deep copies of record values, fast for the shapes records usually have.

Flink copies a value with its type serializer's ``copy()`` whenever object reuse is off. Python
has no serializer per type, so ``copy_value`` dispatches on the runtime type: immutable atoms are
returned as they are, JSON-like dicts and lists are copied with C-speed checks, and anything else
falls back to ``copy.deepcopy``. Register your own immutable classes (frozen dataclasses of
atoms, say) with ``register_immutable_type`` to skip the copy for them.

A copy is only needed when someone else can reach the value. ``UNSHARED_LOCAL`` and
``UNSHARED_PARAM`` let the record path skip it when CPython proves nobody can (see
docs/object-reuse.md): the value's reference count is what a record alone holding it gives,
and the cyclic garbage collector does not track it, so it holds no list, dict, set or class
instance that a second holder could change.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
import gc
import sys
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

__all__ = [
    "ATOMS",
    "UNSHARED_LOCAL",
    "UNSHARED_PARAM",
    "copy_value",
    "is_tracked",
    "refcount",
    "register_copier",
    "register_immutable_type",
    "unshared_flat",
]

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


# -- values only a record holds -------------------------------------------------------------------
#: ``sys.getrefcount`` (CPython); the record path binds it once.
refcount: Callable[[Any], int] = getattr(sys, "getrefcount", lambda _: -2)
#: ``gc.is_tracked``: false for a dict that holds only atoms, tuples and other untracked objects.
is_tracked: Callable[[Any], bool] = gc.is_tracked


class _Holder:
    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


def _refs_in_local(holder: _Holder) -> int:
    # the shape of CopyingChainingOutput.collect: the value read into a local first
    value = holder.value
    return refcount(value)


def _refs_in_param(value: object) -> int:
    # the shape of RecordWriter.emit: the value passed as an argument from ``record.value``
    return refcount(value)


def _calibrate() -> tuple[int, int]:
    """The reference counts the record path sees for a value only its record holds.

    Measured on this interpreter (a build may borrow references another does not count), and
    checked: a second holder must add exactly one. Where that fails (no reference counts, a
    free-threaded build), ``-1`` never matches and every value is copied.
    """
    never = (-1, -1)
    if not hasattr(sys, "getrefcount") or not getattr(sys, "_is_gil_enabled", lambda: True)():
        return never
    holder = _Holder({})
    local, param = _refs_in_local(holder), _refs_in_param(holder.value)
    second = holder.value
    if _refs_in_local(holder) != local + 1 or _refs_in_param(holder.value) != param + 1:
        return never
    del second
    return local, param


#: What ``refcount(value)`` gives right after ``value = record.value`` (``UNSHARED_LOCAL``) and
#: inside ``f(record.value)`` (``UNSHARED_PARAM``) when only the record holds the value; ``-1``
#: when this interpreter cannot tell.
UNSHARED_LOCAL, UNSHARED_PARAM = _calibrate()


def unshared_flat(holder: Any) -> bool:
    """Whether ``holder.value`` is a dict only ``holder`` can reach, holding no container.

    The check the record path inlines; here for tests and for code off the hot path.
    """
    value = holder.value
    return type(value) is dict and refcount(value) == UNSHARED_LOCAL and not is_tracked(value)
