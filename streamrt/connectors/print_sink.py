"""Writes records to standard output (Flink's ``PrintSink``).

With parallelism > 1 each line is prefixed with the subtask number, as Flink does
(``"2> value"``). Lines go through the stream's own buffer; ``flush`` flushes it.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from streamrt.runtime.sink_writer import SinkWriterBase, SinkWriterContext

__all__ = ["PrintSink"]


class PrintSink:
    """Prints each value with ``str()``.

    Args:
        prefix: written before each line (before the subtask number).
        stream: where to write; standard output by default (looked up when the job starts).
    """

    def __init__(self, prefix: str = "", stream: TextIO | None = None) -> None:
        self.prefix = prefix
        self.stream = stream

    def create_writer(self, context: SinkWriterContext) -> _PrintWriter:
        """A writer for one subtask."""
        lead = self.prefix + (f"{context.subtask_index + 1}> " if context.parallelism > 1 else "")
        return _PrintWriter(lead, self.stream or sys.stdout)


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
