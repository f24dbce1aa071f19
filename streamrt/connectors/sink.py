"""The sink contract (defined in the runtime, which drives it)."""

from streamrt.runtime.sink_writer import Sink, SinkWriter, SinkWriterContext

__all__ = ["Sink", "SinkWriter", "SinkWriterContext"]
