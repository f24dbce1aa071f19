"""Side-output tags.

Port of Flink's ``OutputTag``: a named, typed handle for a side output. Two tags are equal when
their ids are equal, as in Flink, so a tag re-created from its name still matches.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from streamrt.errors import GraphError

__all__ = ["OutputTag"]

T = TypeVar("T")


class OutputTag(Generic[T]):
    """Names a side output of an operator.

    Args:
        tag_id: the side output's name; must be non-empty.
        type_info: PyFlink's type information (``Types.STRING()``): accepted and unused.
    """

    __slots__ = ("tag_id",)

    def __init__(self, tag_id: str, type_info: object = None) -> None:
        if not isinstance(tag_id, str) or not tag_id:
            msg = f"an OutputTag needs a non-empty string id; got {tag_id!r}"
            raise GraphError(msg)
        self.tag_id = tag_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OutputTag) and other.tag_id == self.tag_id

    def __hash__(self) -> int:
        return hash(("OutputTag", self.tag_id))

    def __repr__(self) -> str:
        return f"OutputTag({self.tag_id!r})"
