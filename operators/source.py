"""The head operator of a source chain.

Port of the role of Flink's ``SourceOperator``: it owns nothing but its output; the source
task reads the ``SourceReader`` and pushes records into that output directly, so records
enter the chain with one call and are counted as the source's records-out there.
"""

from __future__ import annotations

from typing import Any

from operators.base import AbstractStreamOperator
from streamrt.runtime.elements import StreamRecord

__all__ = ["SourceOperator"]


class SourceOperator(AbstractStreamOperator[Any, Any]):
    """Placeholder head of a source chain; records never arrive through an input."""

    def process_element(self, record: StreamRecord[Any]) -> None:
        """Sources have no input."""
        msg = "a source operator has no input"
        raise TypeError(msg)
