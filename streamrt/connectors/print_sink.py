"""Writes records to standard output (Flink's ``PrintSink``).

Each line is prefixed as Flink's ``PrintSinkOutputWriter`` does: ``"id> value"`` with an
identifier, ``"id:2> value"`` with an identifier at parallelism > 1 (the subtask's display
number), ``"2> value"`` without one at parallelism > 1, nothing otherwise. Lines go through the
stream's own buffer; ``flush`` flushes it.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from streamrt.runtime.sink_writer import SinkWriterBase, SinkWriterContext

__all__ = ["PrintSink"]


class PrintSink:
    """Prints each value with ``str()``.

    Args:
        identifier: names the sink in each line's prefix (PyFlink's ``sink_identifier``).
        stream: where to write; standard output by default (looked up when the job starts).
    """

    def __init__(self, identifier: str = "", stream: TextIO | None = None) -> None:
        self.identifier = identifier
        self.stream = stream

    def create_writer(self, context: SinkWriterContext) -> _PrintWriter:
        """A writer for one subtask."""
        number = str(context.subtask_index + 1) if context.parallelism > 1 else ""
        lead = ":".join(part for part in (self.identifier, number) if part)
        return _PrintWriter(f"{lead}> " if lead else "", self.stream or sys.stdout)


class _PrintWriter(SinkWriterBase):
    def __init__(self, lead: str, stream: TextIO) -> None:
        self._lead = lead
        self._stream = stream

    def write(self, value: Any, timestamp: int | None) -> None:
        self._stream.write(f"{self._lead}{value}\n")

    async def flush(self, end_of_input: bool) -> None:
        self._stream.flush()

    async def close(self) -> None:
        self._stream.flush()
