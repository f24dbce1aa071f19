"""Edges that cross tasks through an external system (a Kafka topic) instead of local queues.

Architecture §4: the same ``RecordWriter`` contract, but the buffers go to a topic; on the
consuming side a *pump* reads the topic and feeds ordinary ``LocalChannel``s, one per producer
subtask, so the input gate, the watermark valve, barrier alignment and end-of-input handling
work exactly as for local edges. The runtime only knows these protocols; connectors implement
them (``streamrt.connectors.kafka.edge``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from streamrt.runtime.channel import LocalChannel
from streamrt.runtime.elements import CheckpointBarrier
from streamrt.runtime.partitioners import StreamPartitioner
from streamrt.runtime.record_writer import RecordWriter

__all__ = ["ExternalChannelContext", "ExternalChannelPump", "ExternalChannelSpec"]


@dataclass(frozen=True, slots=True)
class ExternalChannelContext:
    """Where one end of an external edge sits.

    Attributes:
        job_name / edge_id / edge_name: identify the edge (names clients and errors).
        producers / consumers: parallelism of the two sides.
        subtask: this end's subtask index (producer or consumer, by which end is built).
        partitioner: the edge's partitioner (consumer index = topic partition).
        buffer_size: records per buffer, as for local channels.
        remote: the other end runs in another process (a job split into segments): the
            consumer then resumes from its committed positions, ignores the producers'
            checkpoint barriers, and takes part in its own process's checkpoints like a source.
    """

    job_name: str
    edge_id: int
    edge_name: str
    producers: int
    consumers: int
    subtask: int
    partitioner: StreamPartitioner
    buffer_size: int
    remote: bool = False


class ExternalChannelPump(Protocol):
    """Reads one consumer subtask's share of an external edge into its local channels."""

    #: ``ExternalChannelContext.remote`` of the consumer it was made for
    remote: bool

    async def start(self) -> None:
        """Connect and position, before any producer of this run writes."""
        ...

    async def run(self) -> None:
        """Feed the channels until every producer has ended.

        Reading pauses while a channel is at capacity, so back-pressure reaches the topic.
        """
        ...

    def inject_barrier(self, barrier: CheckpointBarrier) -> None:
        """Remote mode: put ``barrier`` into every channel now, after what was fed so far.

        The pump remembers the positions the barrier stands for (this process's checkpoint).
        """
        ...

    def snapshot(self, checkpoint_id: int) -> dict[str, Any]:
        """Where the barrier of ``checkpoint_id`` was (for the checkpoint)."""
        ...

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """The checkpoint completed (commit positions)."""
        ...

    async def notify_job_finished(self) -> None:
        """Remote mode: the job finished cleanly; commit the final positions."""
        ...

    async def close(self) -> None:
        """Disconnect; runs exactly once."""
        ...


class ExternalChannelSpec(Protocol):
    """How an edge crosses an external system; set on a ``StreamEdge`` as ``channel``."""

    @property
    def kind(self) -> str:
        """Shown in plans (e.g. ``"kafka topic 'orders-by-user'"``)."""
        ...

    async def prepare(self, context: ExternalChannelContext) -> None:
        """Before the job starts: create or check what the edge needs (the topic)."""
        ...

    def create_writer(self, context: ExternalChannelContext) -> RecordWriter:
        """The writer of producer subtask ``context.subtask``."""
        ...

    def create_pump(
        self, context: ExternalChannelContext, channels: Sequence[LocalChannel]
    ) -> ExternalChannelPump:
        """The pump of consumer subtask ``context.subtask``; ``channels[j]`` takes producer j."""
        ...
