"""The source contract (defined in the runtime, which drives it)."""

from streamrt.runtime.source_reader import Source, SourceBatch, SourceReader, SourceReaderContext

__all__ = ["Source", "SourceBatch", "SourceReader", "SourceReaderContext"]
