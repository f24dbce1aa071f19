"""A job edge through a Kafka topic (``DataStream.through_kafka``).

Architecture §4 ("KafkaChannel"). Producer subtask ``i`` writes each record to the topic
partition equal to the consumer subtask the edge's partitioner picks (a ``key_by`` edge thus
becomes a repartition topic, as in Kafka Streams). Watermarks, idleness, checkpoint barriers,
latency markers and end of input are written as control messages to every partition, so they
reach every consumer in order with the records around them. The message key says what a
message is and which producer wrote it (``R3``: a record of producer 3; ``B3``: its barrier;
...); consumer subtask ``j`` reads partition ``j`` and feeds one local channel per producer, so
its input gate aligns watermarks and barriers across producers exactly as for a local edge.

Within one job the edge keeps the job's guarantees: a consumer starts at the end of its
partition (a restored run regenerates everything after its checkpoint upstream), checkpoints
align across the topic, and a producer acknowledges a checkpoint only after Kafka holds
everything before its barrier.

When the job runs split into segments, one per process (``streamrt run --segment n``), the
consumer of an edge whose producers run elsewhere is *remote*: it reads its partition as a
consumer of group ``streamrt-<job>-edge<id>``, resumes from that group's committed offset,
ignores the producers' barriers (they belong to the other process's checkpoints), and takes
part in its own process's checkpoints like a source: the checkpoint's barrier enters at the
pump, and the offset it stands for is committed when the checkpoint completes. Each process is
at-least-once on its own, as Kafka Streams sub-topologies are.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from streamrt.connectors.kafka._aiokafka import (
    Admin,
    Consumer,
    Message,
    Producer,
    ProducerBatch,
    describe,
)
from streamrt.connectors.kafka.serde import pickle_deserializer, pickle_serializer
from streamrt.errors import ConfigError, ConnectorError
from streamrt.runtime.channel import LocalChannel
from streamrt.runtime.checkpoint_subsumption import pop_subsuming
from streamrt.runtime.elements import (
    CheckpointBarrier,
    ControlElement,
    EndOfInput,
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.external_channel import ExternalChannelContext
from streamrt.runtime.record_writer import RecordWriter

__all__ = ["KafkaEdge", "KafkaEdgePump", "KafkaEdgeWriter"]

logger = logging.getLogger(__name__)

_RECORD, _BARE, _WATERMARK, _STATUS, _BARRIER, _END, _LATENCY = b"RNWSBEL"


class KafkaEdge:
    """The spec of an edge through ``topic``.

    The topic is created with one partition per consumer subtask if it is missing; an
    existing topic needs at least that many.

    Args:
        topic: the topic (one per edge; do not share it with other jobs).
        bootstrap_servers: ``"host:port[,...]"``.
        serializer / deserializer: for record values; pickle by default (same code on both
            ends), so any Python value crosses.
        producer_settings / consumer_settings / security: extra aiokafka settings.
        max_in_flight: batches sent but not acknowledged before the producer task waits.
    """

    def __init__(
        self,
        topic: str,
        *,
        bootstrap_servers: str,
        serializer: Callable[[Any], bytes] = pickle_serializer,
        deserializer: Callable[[bytes], Any] = pickle_deserializer,
        producer_settings: Mapping[str, Any] | None = None,
        consumer_settings: Mapping[str, Any] | None = None,
        security: Mapping[str, Any] | None = None,
        max_in_flight: int = 16,
    ) -> None:
        if not topic or not isinstance(topic, str):
            msg = f"through_kafka() needs a topic name; got {topic!r}"
            raise ConfigError(msg)
        if not bootstrap_servers:
            msg = "through_kafka() needs bootstrap_servers, e.g. 'localhost:9092'"
            raise ConfigError(msg)
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.serializer = serializer
        self.deserializer = deserializer
        self.security = dict(security or {})
        self.producer_settings = {**self.security, **dict(producer_settings or {})}
        self.consumer_settings = {**self.security, **dict(consumer_settings or {})}
        self.max_in_flight = max(1, max_in_flight)

    @property
    def kind(self) -> str:
        """Shown in plans."""
        return f"kafka topic {self.topic!r}"

    async def prepare(self, context: ExternalChannelContext) -> None:
        """Create the topic with one partition per consumer, or check it has enough."""
        # only the shared settings: the admin client rejects producer keys (``linger_ms``)
        admin = Admin(self.bootstrap_servers, settings=self.security)
        await admin.start()
        try:
            if await admin.create_topic(self.topic, context.consumers):
                return
            found = await admin.partitions_of(self.topic)
            if found < context.consumers:
                msg = (
                    f"topic {self.topic!r} of edge {context.edge_name!r} has {found} partitions; "
                    f"the edge needs one per consumer subtask ({context.consumers})"
                )
                raise ConfigError(msg)
        finally:
            await admin.close()

    def create_writer(self, context: ExternalChannelContext) -> KafkaEdgeWriter:
        """The writer of one producer subtask."""
        return KafkaEdgeWriter(self, context)

    def create_pump(
        self, context: ExternalChannelContext, channels: Sequence[LocalChannel]
    ) -> KafkaEdgePump:
        """The reader of one consumer subtask."""
        return KafkaEdgePump(self, context, channels)


def _encode_control(element: ControlElement) -> tuple[int, bytes | None]:
    if isinstance(element, Watermark):
        return _WATERMARK, b"%d" % element.timestamp
    if isinstance(element, WatermarkStatus):
        return _STATUS, element.value.encode()
    if isinstance(element, CheckpointBarrier):
        return _BARRIER, b"%d,%d" % (element.checkpoint_id, element.timestamp_ms)
    if element is EndOfInput:
        return _END, None
    if isinstance(element, LatencyMarker):
        return _LATENCY, b"%r,%d,%d" % (element.marked_time_ms, element.source_id, element.subtask)
    msg = f"no Kafka encoding for control element {element!r}"
    raise TypeError(msg)


def _decode_control(kind: int, payload: bytes | None) -> ControlElement:
    if kind == _WATERMARK:
        return Watermark(int(payload or b"0"))
    if kind == _STATUS:
        return WatermarkStatus((payload or b"").decode())
    if kind == _BARRIER:
        checkpoint, timestamp = (payload or b"0,0").split(b",")
        return CheckpointBarrier(int(checkpoint), int(timestamp))
    if kind == _END:
        return EndOfInput
    if kind == _LATENCY:
        marked, source, subtask = (payload or b"0,0,0").split(b",")
        return LatencyMarker(float(marked), int(source), int(subtask))
    msg = f"unknown control message kind {chr(kind)!r} on a Kafka edge"
    raise ConnectorError(msg)


class KafkaEdgeWriter(RecordWriter):
    """Appends records to one producer batch per consumer partition; sends between batches."""

    def __init__(self, spec: KafkaEdge, context: ExternalChannelContext) -> None:
        self._spec = spec
        self._context = context
        self._topic = spec.topic
        self._producer = Producer(
            spec.bootstrap_servers,
            client_id=f"streamrt-{context.job_name}-edge{context.edge_id}-p{context.subtask}",
            settings=spec.producer_settings,
        )
        partitioner = context.partitioner
        self._broadcast = partitioner.broadcast
        self._consumers = context.consumers
        if not self._broadcast and context.consumers > 1:
            partitioner = partitioner.copy()
            partitioner.setup(context.consumers)
            self._select: Callable[[Any], int] | None = partitioner.select_channel
        else:
            self._select = None
        self._open: list[ProducerBatch | None] = [None] * context.consumers
        self._ready: list[tuple[int, ProducerBatch]] = []
        self._in_flight: list[tuple[asyncio.Future[Any], int, int]] = []
        self._serialize = spec.serializer
        self._with_time = b"%c%d" % (_RECORD, context.subtask)
        self._bare = b"%c%d" % (_BARE, context.subtask)
        self._size = context.buffer_size
        self._random = random.Random()
        self._started = False

    def __repr__(self) -> str:
        return f"<KafkaEdgeWriter {self._topic!r} producer {self._context.subtask}>"

    def _append(self, partition: int, key: bytes, payload: bytes | None, ts: int | None) -> None:
        batch = self._open[partition]
        if batch is None:
            batch = self._open[partition] = self._producer.create_batch()
        if not batch.append(key, payload, ts, None):
            self._ready.append((partition, batch))
            batch = self._open[partition] = self._producer.create_batch_with(
                self._topic, key, payload, ts, None
            )
        if batch.count >= self._size:
            self._ready.append((partition, batch))
            self._open[partition] = None

    def emit(self, value: Any, timestamp: int | None) -> None:
        """Serialize and append to the batch of the partition the partitioner picks."""
        payload = self._serialize(value)
        key = self._bare if timestamp is None else self._with_time
        if self._broadcast:
            for partition in range(self._consumers):
                self._append(partition, key, payload, timestamp)
        else:
            select = self._select
            self._append(0 if select is None else select(value), key, payload, timestamp)

    def flush_all(self) -> None:
        """Close every open batch; they are sent when the task next waits for us."""
        for partition, batch in enumerate(self._open):
            if batch is not None and batch.count:
                self._ready.append((partition, batch))
                self._open[partition] = None

    @property
    def pending(self) -> int:
        """Records appended but not yet handed to the producer."""
        open_count = sum(b.count for b in self._open if b is not None)
        return open_count + sum(b.count for _, b in self._ready)

    def broadcast_control(self, element: ControlElement) -> None:
        """A control message into every partition, after the records before it."""
        kind, payload = _encode_control(element)
        key = b"%c%d" % (kind, self._context.subtask)
        for partition in range(self._consumers):
            self._append(partition, key, payload, None)
        self.flush_all()

    def random_emit(self, marker: LatencyMarker) -> None:
        """A latency marker into one random partition."""
        kind, payload = _encode_control(marker)
        key = b"%c%d" % (kind, self._context.subtask)
        self._append(self._random.randrange(self._consumers), key, payload, None)
        self.flush_all()

    @property
    def available(self) -> bool:
        """False when closed batches wait to be sent or too many await acknowledgement."""
        return not self._ready and len(self._in_flight) < self._spec.max_in_flight

    async def wait_available(self) -> None:
        """Send what is ready; wait for the oldest acknowledgements if too many are out."""
        await self._send_ready()
        while len(self._in_flight) >= self._spec.max_in_flight:
            await self._settle(self._in_flight[: len(self._in_flight) // 2 or 1])

    async def _send_ready(self) -> None:
        ready, self._ready = self._ready, []
        for partition, batch in ready:
            future = await self._producer.send_batch(batch, self._topic, partition)
            self._in_flight.append((future, partition, batch.count))

    async def _settle(self, entries: list[tuple[asyncio.Future[Any], int, int]]) -> None:
        await asyncio.gather(*(f for f, _, _ in entries), return_exceptions=True)
        done = {id(e) for e in entries}
        self._in_flight = [e for e in self._in_flight if id(e) not in done]
        for future, partition, count in entries:
            error = future.exception()
            if error is not None:
                msg = (
                    f"sending {count} messages of edge {self._context.edge_name!r} to topic "
                    f"{self._topic!r} partition {partition} failed: {describe(error)}"
                )
                raise ConnectorError(msg) from error

    async def open(self) -> None:
        """Connect the producer."""
        await self._producer.start()
        self._started = True

    async def drain(self) -> None:
        """Send everything and wait until Kafka acknowledged it."""
        self.flush_all()
        await self._send_ready()
        await self._settle(list(self._in_flight))

    async def close(self) -> None:
        """Disconnect."""
        if self._started:
            self._started = False
            await self._producer.stop()


class KafkaEdgePump:
    """Reads one consumer partition of the edge into one local channel per producer."""

    def __init__(
        self, spec: KafkaEdge, context: ExternalChannelContext, channels: Sequence[LocalChannel]
    ) -> None:
        self._spec = spec
        self._context = context
        self._channels = list(channels)
        self._partition = (spec.topic, context.subtask)
        self.remote = context.remote
        self._consumer = Consumer(
            spec.bootstrap_servers,
            group_id=f"streamrt-{context.job_name}-edge{context.edge_id}" if self.remote else None,
            client_id=f"streamrt-{context.job_name}-edge{context.edge_id}-c{context.subtask}",
            settings=spec.consumer_settings,
        )
        self._ended = [False] * context.producers
        self._kinds: dict[bytes, tuple[int, int]] = {}
        self._barriers: dict[int, dict[int, int]] = {}
        self._position: int | None = None  # next offset to read, after what was fed
        self._injected: dict[int, int] = {}  # checkpoint id -> position it stands for
        self._started = False

    async def start(self) -> None:
        """Connect and position the consumer.

        Same process: start at the end of the partition (this run regenerates the rest).
        Remote: resume from the group's committed offset, else the beginning.
        """
        await self._consumer.start()
        self._started = True
        partition = self._partition
        self._consumer.assign([partition])
        if not self.remote:
            await self._consumer.seek_to_end([partition])
        elif (committed := await self._consumer.committed(partition)) is not None:
            self._consumer.seek(partition, committed)
        else:
            await self._consumer.seek_to_beginning([partition])
        self._position = await self._consumer.position(partition)

    async def run(self) -> None:
        """Feed the channels until every producer has sent its end of input."""
        consumer, channels = self._consumer, self._channels
        limit = max(1, self._context.buffer_size)
        while not all(self._ended):
            for channel in channels:
                if not channel.writable:
                    await channel.wait_writable()
            fetched = await consumer.getmany(100, limit)
            for messages in fetched.values():
                self._dispatch(messages)

    def _kind(self, key: bytes | None) -> tuple[int, int]:
        found = self._kinds.get(key) if key is not None else None
        if found is None:
            if not key or len(key) < 2 or not key[1:].isdigit():
                msg = f"topic {self._spec.topic!r} holds a message that is not from this edge"
                raise ConnectorError(msg)
            found = self._kinds[key] = (key[0], int(key[1:]))
        return found

    def _dispatch(self, messages: list[Message]) -> None:
        deserialize = self._spec.deserializer
        buffers: dict[int, list[StreamRecord[Any]]] = {}
        for message in messages:
            kind, producer = self._kind(message.key)
            if kind in (_RECORD, _BARE):
                value = deserialize(message.value)  # type: ignore[arg-type]
                ts = message.timestamp if kind == _RECORD else None
                buffer = buffers.get(producer)
                if buffer is None:
                    buffer = buffers[producer] = []
                buffer.append(StreamRecord(value, ts))
                continue
            buffer = buffers.pop(producer, None)
            if buffer:
                self._channels[producer].send(buffer)
            element = _decode_control(kind, message.value)
            if kind == _BARRIER:
                if self.remote:  # the producers' process checkpoints on its own
                    continue
                assert isinstance(element, CheckpointBarrier)
                self._barriers.setdefault(element.checkpoint_id, {})[producer] = message.offset
            elif kind == _END:
                self._ended[producer] = True
            self._channels[producer].send(element)
        for producer, buffer in buffers.items():
            self._channels[producer].send(buffer)
        if messages:
            self._position = messages[-1].offset + 1

    def inject_barrier(self, barrier: CheckpointBarrier) -> None:
        """Remote mode: this process's barrier, behind everything fed so far."""
        if self._position is not None:
            self._injected[barrier.checkpoint_id] = self._position
        for channel in self._channels:
            channel.send(barrier)

    def snapshot(self, checkpoint_id: int) -> dict[str, Any]:
        """Where the barrier of ``checkpoint_id`` was.

        Same process: per producer, its offset in the partition. Remote: the offset this
        process's barrier stands for.
        """
        at = pop_subsuming(self._barriers, checkpoint_id) or {}
        state: dict[str, Any] = {"topic": self._spec.topic, "partition": self._context.subtask}
        if self.remote:
            state["offset"] = self._injected.get(checkpoint_id)
        else:
            state["barriers"] = at
        return state

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Remote mode: commit the offset the checkpoint covers.

        Same process: nothing to commit, a run always starts at the end of the partition.
        """
        offset = pop_subsuming(self._injected, checkpoint_id)
        if self.remote and offset is not None:
            await self._commit(offset)

    async def notify_job_finished(self) -> None:
        """Remote mode: commit the final position after a clean finish."""
        if self.remote and self._position is not None:
            await self._commit(self._position)

    async def _commit(self, offset: int) -> None:
        try:
            await self._consumer.commit({self._partition: offset})
        except Exception as exc:  # for monitoring and restarts; the next checkpoint retries
            logger.warning(
                "committing %s of edge topic %r failed: %s", offset, self._spec.topic, exc
            )

    async def close(self) -> None:
        """Disconnect."""
        if self._started:
            self._started = False
            await self._consumer.stop()
