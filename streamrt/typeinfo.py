"""PyFlink's type vocabulary, so PyFlink code runs with only its imports changed.

``Types.INT()``, ``Types.ROW([...])``, ``Types.PICKLED_BYTE_ARRAY()`` and the rest return
``TypeInformation`` placeholders. streamrt never reads them: values are Python objects, copied
and checkpointed as such, so a placeholder (or any other object) passed as ``value_type_info``,
``output_type=`` or ``key_type=`` changes nothing at run time.

``Row`` is a minimal version of PyFlink's: positional (``Row(1, "a")``) or named
(``Row(id=1, name="a")``) fields, read by position, by name (``row["name"]``) or as attributes
(``row.name``), and set by position or name (``row[1] = ...``), as PyFlink's
``KeyedProcessFunction`` example does. Rows compare equal when their values (and names) are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Row", "TypeInformation", "Types"]


@dataclass(frozen=True, slots=True)
class TypeInformation:
    """A type placeholder (``Types.INT()`` and friends); never read at run time."""

    name: str
    arguments: tuple[Any, ...] = ()

    def __repr__(self) -> str:
        inner = ", ".join(repr(a) for a in self.arguments)
        return f"Types.{self.name}({inner})"


def _basic(name: str) -> Any:
    def make() -> TypeInformation:
        return TypeInformation(name)

    make.__name__ = name
    make.__doc__ = f"The placeholder for PyFlink's ``Types.{name}()``."
    return staticmethod(make)


class Types:
    """PyFlink's ``Types``: each method returns a ``TypeInformation`` placeholder."""

    STRING = _basic("STRING")
    BYTE = _basic("BYTE")
    BOOLEAN = _basic("BOOLEAN")
    SHORT = _basic("SHORT")
    INT = _basic("INT")
    LONG = _basic("LONG")
    FLOAT = _basic("FLOAT")
    DOUBLE = _basic("DOUBLE")
    CHAR = _basic("CHAR")
    BIG_INT = _basic("BIG_INT")
    BIG_DEC = _basic("BIG_DEC")
    INSTANT = _basic("INSTANT")
    SQL_DATE = _basic("SQL_DATE")
    SQL_TIME = _basic("SQL_TIME")
    SQL_TIMESTAMP = _basic("SQL_TIMESTAMP")
    LOCAL_DATE = _basic("LOCAL_DATE")
    LOCAL_TIME = _basic("LOCAL_TIME")
    LOCAL_DATE_TIME = _basic("LOCAL_DATE_TIME")
    PICKLED_BYTE_ARRAY = _basic("PICKLED_BYTE_ARRAY")

    @staticmethod
    def ROW(field_types: Sequence[TypeInformation]) -> TypeInformation:
        """A row of positional fields."""
        return TypeInformation("ROW", (list(field_types),))

    @staticmethod
    def ROW_NAMED(
        field_names: Sequence[str], field_types: Sequence[TypeInformation]
    ) -> TypeInformation:
        """A row of named fields."""
        return TypeInformation("ROW_NAMED", (list(field_names), list(field_types)))

    @staticmethod
    def TUPLE(field_types: Sequence[TypeInformation]) -> TypeInformation:
        """A tuple."""
        return TypeInformation("TUPLE", (list(field_types),))

    @staticmethod
    def PRIMITIVE_ARRAY(element_type: TypeInformation) -> TypeInformation:
        """An array of a primitive type."""
        return TypeInformation("PRIMITIVE_ARRAY", (element_type,))

    @staticmethod
    def BASIC_ARRAY(element_type: TypeInformation) -> TypeInformation:
        """An array of a basic type."""
        return TypeInformation("BASIC_ARRAY", (element_type,))

    @staticmethod
    def OBJECT_ARRAY(element_type: TypeInformation) -> TypeInformation:
        """An array of objects."""
        return TypeInformation("OBJECT_ARRAY", (element_type,))

    @staticmethod
    def LIST(element_type: TypeInformation) -> TypeInformation:
        """A list."""
        return TypeInformation("LIST", (element_type,))

    @staticmethod
    def MAP(key_type: TypeInformation, value_type: TypeInformation) -> TypeInformation:
        """A map."""
        return TypeInformation("MAP", (key_type, value_type))


class Row:
    """A record of positional or named fields (a minimal PyFlink ``Row``)."""

    __slots__ = ("_fields", "_values")

    def __init__(self, *values: Any, **named: Any) -> None:
        if values and named:
            msg = "a Row has positional or named fields, not both"
            raise TypeError(msg)
        self._fields: tuple[str, ...] | None = tuple(named) if named else None
        self._values: list[Any] = list(named.values()) if named else list(values)

    def _index(self, item: int | str) -> int:
        if isinstance(item, str):
            if self._fields is None or item not in self._fields:
                raise KeyError(item)
            return self._fields.index(item)
        return item

    def __getitem__(self, item: int | str) -> Any:
        return self._values[self._index(item)]

    def __setitem__(self, item: int | str, value: Any) -> None:
        self._values[self._index(item)] = value

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name.startswith("__") or fields is None or name not in fields:
            msg = f"Row has no field {name!r}"
            raise AttributeError(msg)
        return self._values[fields.index(name)]

    def as_dict(self) -> dict[str, Any]:
        """The named fields as a dict (PyFlink's ``as_dict``)."""
        if self._fields is None:
            msg = "as_dict() needs a Row with named fields"
            raise TypeError(msg)
        return dict(zip(self._fields, self._values, strict=True))

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Row):
            return NotImplemented
        return self._fields == other._fields and self._values == other._values

    def __hash__(self) -> int:
        return hash((self._fields, tuple(self._values)))

    def __copy__(self) -> Row:
        return _make_row(self._fields, self._values)  # new list: independent of the original

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make_row, (self._fields, self._values))

    def __repr__(self) -> str:
        if self._fields is None:
            return f"Row({', '.join(repr(v) for v in self._values)})"
        pairs = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self._values, strict=True))
        return f"Row({pairs})"


def _make_row(fields: tuple[str, ...] | None, values: list[Any]) -> Row:
    if fields is None:
        return Row(*values)
    return Row(**dict(zip(fields, values, strict=True)))
