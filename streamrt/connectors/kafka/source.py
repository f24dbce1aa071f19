"""``KafkaSource``: reads topics into a job, with checkpointed offsets.

Port of the ideas of Flink's ``KafkaSource``: every partition is a split; offsets (the next
offset to read) travel in checkpoints; they are committed to Kafka only when a checkpoint
completes, or when the job finishes cleanly, so a crash replays from the last committed offsets
and loses nothing (at-least-once). Differences: besides Flink's explicit assignment
(``mode="assigned"``) there is a ``mode="group"`` in which Kafka's group protocol assigns the
partitions, so several workers can share the load without a coordinator of ours.

Records are fetched in batches (``getmany``) and deserialized per batch; the task never awaits
per record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from streamrt.connectors.kafka._aiokafka import Consumer, Message, Partition, Producer
from streamrt.connectors.kafka.serde import bytes_deserializer
from streamrt.errors import ConfigError, ConnectorError
from streamrt.runtime.checkpoint_subsumption import pop_subsuming
from streamrt.runtime.copying import copy_value, register_copier
from streamrt.runtime.failed_records import worth_logging
from streamrt.runtime.source_reader import SourceBatch, SourceReaderContext
from streamrt.runtime.statistics import ConnectorMetric

__all__ = ["KafkaRecord", "KafkaSource"]

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

StartingOffsets = Literal["earliest", "latest", "committed"] | int
ErrorPolicy = Literal["fail", "skip", "dead_letter"]


@dataclass(frozen=True, slots=True)
class KafkaRecord(Generic[K, V]):
    """A Kafka record with its metadata (``KafkaSource(..., with_metadata=True)``)."""

    key: K
    value: V
    topic: str
    partition: int
    offset: int
    timestamp: int
    headers: tuple[tuple[str, bytes], ...] = ()


# only the key and value can be mutable: copy those, share the rest
register_copier(
    KafkaRecord,
    lambda r: KafkaRecord(
        copy_value(r.key),
        copy_value(r.value),
        r.topic,
        r.partition,
        r.offset,
        r.timestamp,
        r.headers,
    ),
)


class KafkaSource(Generic[T]):
    """Reads Kafka topics.

    Args:
        bootstrap_servers: ``"host:port[,host:port...]"``.
        topics: topics to read; or give ``topic_pattern`` (a regular expression).
        group_id: the consumer group: where offsets are committed; required by ``mode="group"``.
        mode: ``"group"`` (Kafka assigns partitions to the members of ``group_id``, so several
            workers share the load) or ``"assigned"`` (the source's subtasks split the
            partitions among themselves, or read exactly ``partitions``). Default: group when
            ``group_id`` is given and neither ``partitions`` nor ``bounded``, else assigned.
        partitions: explicit ``(topic, partition)`` pairs to read (assigned mode).
        starting_offsets: where a partition starts the first time this job reads it:
            ``"earliest"``, ``"latest"``, ``"committed"`` (the group's committed offset, else
            earliest), or a timestamp in epoch ms (the first record at or after it). Default:
            committed with a group, else earliest. A restore from a checkpoint overrides it.
        bounded: stop at the end offsets seen when each partition is first assigned (backfills,
            tests); the job then finishes by itself. Needs assigned mode.
        value_deserializer / key_deserializer: ``bytes -> value``; raw bytes by default.
        with_metadata: emit ``KafkaRecord``s (key, value, topic, partition, offset, timestamp,
            headers) instead of bare values.
        on_error: what to do with a record that fails to deserialize: ``"fail"`` (stop the job,
            naming topic, partition and offset), ``"skip"`` (count it and go on) or
            ``"dead_letter"`` (send the raw record to ``dead_letter_topic`` with error headers).
        dead_letter_topic: where dead letters go (implies ``on_error="dead_letter"``).
        consumer_settings: extra aiokafka consumer settings (``fetch_max_bytes``, ...).
        security: settings for every client this source makes (``security_protocol``,
            ``sasl_mechanism``, ``sasl_plain_username``, ``ssl_context``, ...).
        max_batch_records: most records per fetch.
        fetch_timeout_ms: how long one fetch waits for data, both here and at the broker
            (aiokafka's ``fetch_max_wait_ms``, unless ``consumer_settings`` name it). A broker
            that answers as soon as data arrives (Kafka, with ``fetch_min_bytes`` 1) makes it
            the idle poll interval only; one that holds fetches up to that wait even when data
            arrives (Tansu) makes it the bound of the source's share of latency. Lower means
            more requests while idle.
        connect_attempts: tries to reach the brokers at start (backoff 0.25 s doubling) before
            the job fails with an error naming them.

    Raises:
        ConfigError: contradictory or missing settings (checked here, before the job runs).
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topics: Sequence[str] | None = None,
        topic_pattern: str | None = None,
        group_id: str | None = None,
        mode: Literal["group", "assigned"] | None = None,
        partitions: Sequence[Partition] | None = None,
        starting_offsets: StartingOffsets | None = None,
        bounded: bool = False,
        value_deserializer: Callable[[bytes], Any] = bytes_deserializer,
        key_deserializer: Callable[[bytes], Any] = bytes_deserializer,
        with_metadata: bool = False,
        on_error: ErrorPolicy | None = None,
        dead_letter_topic: str | None = None,
        consumer_settings: Mapping[str, Any] | None = None,
        security: Mapping[str, Any] | None = None,
        max_batch_records: int = 2_000,
        fetch_timeout_ms: int = 100,
        connect_attempts: int = 5,
    ) -> None:
        if not bootstrap_servers:
            msg = "KafkaSource needs bootstrap_servers, e.g. 'localhost:9092'"
            raise ConfigError(msg)
        given = sum(x is not None for x in (topics, topic_pattern, partitions))
        if given != 1:
            msg = "KafkaSource needs exactly one of topics=, topic_pattern= or partitions="
            raise ConfigError(msg)
        if topics is not None and (isinstance(topics, str) or not topics):
            msg = f"topics must be a non-empty list of topic names; got {topics!r}"
            raise ConfigError(msg)
        if mode is None:
            group = group_id is not None and partitions is None and not bounded
            mode = "group" if group else "assigned"
        if mode not in ("group", "assigned"):
            msg = f"mode must be 'group' or 'assigned'; got {mode!r}"
            raise ConfigError(msg)
        if mode == "group" and group_id is None:
            msg = "mode='group' needs a group_id"
            raise ConfigError(msg)
        if mode == "group" and bounded:
            msg = (
                "bounded=True needs mode='assigned': a group may move partitions to members "
                "that have already finished (group_id still names where offsets are committed)"
            )
            raise ConfigError(msg)
        if mode == "group" and partitions is not None:
            msg = "partitions= means mode='assigned'; a group assigns partitions itself"
            raise ConfigError(msg)
        if starting_offsets is None:
            starting_offsets = "committed" if group_id is not None else "earliest"
        if starting_offsets not in ("earliest", "latest", "committed") and (
            isinstance(starting_offsets, bool) or not isinstance(starting_offsets, int)
        ):
            msg = (
                "starting_offsets must be 'earliest', 'latest', 'committed' or a timestamp in "
                f"epoch ms; got {starting_offsets!r}"
            )
            raise ConfigError(msg)
        if starting_offsets == "committed" and group_id is None:
            msg = "starting_offsets='committed' needs a group_id"
            raise ConfigError(msg)
        if dead_letter_topic is not None and on_error in (None, "dead_letter"):
            on_error = "dead_letter"
        on_error = on_error or "fail"
        if on_error not in ("fail", "skip", "dead_letter"):
            msg = f"on_error must be 'fail', 'skip' or 'dead_letter'; got {on_error!r}"
            raise ConfigError(msg)
        if on_error == "dead_letter" and not dead_letter_topic:
            msg = "on_error='dead_letter' needs dead_letter_topic="
            raise ConfigError(msg)
        if max_batch_records < 1:
            msg = f"max_batch_records must be >= 1; got {max_batch_records}"
            raise ConfigError(msg)
        if fetch_timeout_ms < 0:
            msg = f"fetch_timeout_ms must be >= 0; got {fetch_timeout_ms}"
            raise ConfigError(msg)
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics) if topics is not None else None
        self.topic_pattern = topic_pattern
        self.group_id = group_id
        self.mode = mode
        self.partitions: list[Partition] | None = (
            [(str(t), int(p)) for t, p in partitions] if partitions is not None else None
        )
        self.starting_offsets: StartingOffsets = starting_offsets
        self.bounded = bounded
        self.value_deserializer = value_deserializer
        self.key_deserializer = key_deserializer
        self.with_metadata = with_metadata
        self.on_error: ErrorPolicy = on_error
        self.dead_letter_topic = dead_letter_topic
        self.consumer_settings = dict(consumer_settings or {})
        self.security = dict(security or {})
        self.max_batch_records = max_batch_records
        self.fetch_timeout_ms = fetch_timeout_ms
        self.connect_attempts = max(1, connect_attempts)

    def create_reader(self, context: SourceReaderContext) -> KafkaSourceReader[T]:
        """The reader of one subtask."""
        return KafkaSourceReader(self, context)


class KafkaSourceReader(Generic[T]):
    """Reads the partitions of one source subtask."""

    def __init__(self, source: KafkaSource[T], context: SourceReaderContext) -> None:
        self._source = source
        self._context = context
        self._restored: dict[Partition, int] = {
            (str(p[0]), int(p[1])): int(o) for p, o in context.restored_positions.items()
        }
        client_id = f"streamrt-{context.job_name}-{context.operator_name}-{context.subtask_index}"
        self._consumer = Consumer(
            source.bootstrap_servers,
            group_id=source.group_id,
            client_id=client_id,
            settings={
                "fetch_max_wait_ms": source.fetch_timeout_ms,
                **source.security,
                **source.consumer_settings,
            },
        )
        self._dead_letters: Producer | None = None
        if source.on_error == "dead_letter":
            self._dead_letters = Producer(
                source.bootstrap_servers, client_id=f"{client_id}-dlq", settings=source.security
            )
        self._initialized: set[Partition] = set()  # partitions whose starting offset was applied
        self._owned: set[Partition] = set()
        self._end: dict[Partition, int] = {}  # bounded: where each partition stops
        self._done: set[Partition] = set()
        self._release: list[SourceBatch[T]] = []
        self._revoked: set[Partition] = set()  # revoked by a rebalance, not released yet
        self._released: set[Partition] = set()  # released to the task as revoked
        self._positions: dict[Partition, int] = {}
        self._pending_commits: dict[int, dict[Partition, int]] = {}
        self._committed: dict[Partition, int] = {}
        self._highwater: dict[Partition, int] = {}
        self.skipped = 0
        self.dead_lettered = 0
        self.commits_succeeded = 0
        self.commits_failed = 0
        self._started = False
        self._assignment_seen = False  # bounded: a reader given no partitions is done at once

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, and take partitions (assigned mode) or join the group."""
        attempts = self._source.connect_attempts
        await self._consumer.start(attempts=attempts)
        self._started = True
        if self._dead_letters is not None:
            await self._dead_letters.start(attempts=attempts)
        source = self._source
        if source.mode == "group":
            self._consumer.subscribe(
                topics=source.topics,
                pattern=source.topic_pattern,
                on_assigned=self._on_assigned,
                on_revoked=self._on_revoked,
            )
            return
        mine = await self._my_partitions()
        self._consumer.assign(mine)
        await self._on_assigned(mine)

    async def _my_partitions(self) -> list[Partition]:
        source = self._source
        if source.partitions is not None:
            candidates = sorted(source.partitions)
        else:
            topics = source.topics
            if topics is None:
                assert source.topic_pattern is not None
                topics = await self._consumer.topics_matching(source.topic_pattern)
            candidates = []
            for topic in topics:
                found = await self._consumer.partitions_of(topic)
                if not found:
                    msg = (
                        f"topic {topic!r} does not exist at {source.bootstrap_servers}; create "
                        "it (with the partition count you need) before starting the job"
                    )
                    raise ConnectorError(msg)
                candidates.extend((topic, p) for p in found)
        index, parallelism = self._context.subtask_index, self._context.parallelism
        return [p for i, p in enumerate(candidates) if i % parallelism == index]

    async def _on_assigned(self, partitions: list[Partition]) -> None:
        self._assignment_seen = True
        fresh = [p for p in partitions if p not in self._initialized]
        self._owned.update(partitions)
        # announce new partitions, so each holds the source's watermark back until it has
        # data or is idle (with_idleness)
        self._release.extend(SourceBatch([], p) for p in fresh)
        for partition in partitions:
            if partition not in fresh:
                await self._resume(partition)
        if not fresh:
            return
        self._initialized.update(fresh)
        consumer, start = self._consumer, self._source.starting_offsets
        for partition in fresh:
            if partition in self._restored:
                consumer.seek(partition, self._restored[partition])
        rest = [p for p in fresh if p not in self._restored]
        if start == "earliest":
            await consumer.seek_to_beginning(rest)
        elif start == "latest":
            await consumer.seek_to_end(rest)
        elif start == "committed":
            unset = [p for p in rest if await consumer.committed(p) is None]
            await consumer.seek_to_beginning(unset)  # the others resume where the group left
        else:
            found = await consumer.offsets_for_times(rest, int(start))
            for partition in rest:
                offset = found.get(partition)
                if offset is None:
                    await consumer.seek_to_end([partition])
                else:
                    consumer.seek(partition, offset)
        if self._source.bounded:
            ends = await consumer.end_offsets(fresh)
            for partition in fresh:
                self._end[partition] = ends[partition]
                if await consumer.position(partition) >= ends[partition]:
                    self._finish(partition)

    async def _resume(self, partition: Partition) -> None:
        """A partition this reader had before comes back after a rebalance.

        Kafka would restart it from the group's committed offset, re-reading everything read
        since the last commit; resume instead from the later of that offset and our own
        position (another member may have gone further meanwhile).
        """
        self._revoked.discard(partition)
        position = self._positions.get(partition)
        if position is None:
            return
        committed = await self._consumer.committed(partition)
        resume_at = max(position, committed or 0)
        self._consumer.seek(partition, resume_at)
        if partition in self._released:  # the task already forgot it: tell it where we are
            self._released.discard(partition)
            self._release.append(SourceBatch([], partition, position=resume_at))

    async def _on_revoked(self, partitions: list[Partition]) -> None:
        # released at the next fetch, unless the rebalance gives them straight back (an eager
        # rebalance revokes everything, then assigns most of it again)
        for partition in partitions:
            self._owned.discard(partition)
            self._revoked.add(partition)

    def _finish(self, partition: Partition) -> None:
        if partition not in self._done:
            self._done.add(partition)
            self._consumer.pause([partition])
            self._release.append(SourceBatch([], partition, release="finished"))

    async def close(self) -> None:
        """Disconnect (leaving the group)."""
        await self._consumer.stop()
        if self._dead_letters is not None:
            await self._dead_letters.stop()

    # -- reading ---------------------------------------------------------------------------------
    async def fetch(self) -> list[SourceBatch[T]] | None:
        """The next batches, one per partition with data; ``None`` once bounded input ended."""
        source = self._source
        finished = source.bounded and self._assignment_seen and self._owned <= self._done
        if finished and not self._release:
            return None
        fetched = await self._consumer.getmany(source.fetch_timeout_ms, source.max_batch_records)
        for partition in self._revoked:  # really gone: stop holding event time back for it
            self._released.add(partition)
            self._release.append(SourceBatch([], partition, release="revoked"))
        self._revoked.clear()
        for partition in self._owned:  # end offsets as of this fetch, for the lag metric
            highwater = self._consumer.highwater(partition)
            if highwater is not None:
                self._highwater[partition] = highwater
        batches = self._release
        self._release = []
        for partition, messages in fetched.items():
            if source.bounded:
                end = self._end.get(partition)
                if end is not None and messages and messages[-1].offset >= end:
                    messages = [m for m in messages if m.offset < end]
            if messages:
                batch = await self._decode(partition, messages)
                if batch is not None:
                    batches.append(batch)
                self._positions[partition] = messages[-1].offset + 1
            if source.bounded and self._positions.get(partition, -1) >= self._end.get(
                partition, 2**63
            ):
                self._finish(partition)
        if source.bounded and not fetched:
            # transaction markers and compaction can leave no record at the end offset itself
            for partition in list(self._owned - self._done):
                if await self._consumer.position(partition) >= self._end.get(partition, 2**63):
                    self._finish(partition)
        batches.extend(self._release)
        self._release = []
        return batches

    async def _decode(self, partition: Partition, messages: list[Message]) -> SourceBatch[T] | None:
        source = self._source
        deserialize = source.value_deserializer
        position = messages[-1].offset + 1
        try:
            if source.with_metadata:
                values: list[Any] = [self._record(m) for m in messages]
            else:
                values = [None if (v := m.value) is None else deserialize(v) for m in messages]
            return SourceBatch(values, partition, [m.timestamp for m in messages], position)
        except Exception:  # the slow path below finds the bad record(s) and applies the policy
            pass
        values = []
        timestamps = []
        for message in messages:
            try:
                if source.with_metadata:
                    value: Any = self._record(message)
                else:
                    value = None if message.value is None else deserialize(message.value)
            except Exception as exc:
                await self._handle_bad_record(message, exc)
                continue
            values.append(value)
            timestamps.append(message.timestamp)
        return SourceBatch(values, partition, timestamps, position)

    def _record(self, message: Message) -> KafkaRecord[Any, Any]:
        source = self._source
        key = message.key
        value = message.value
        return KafkaRecord(
            None if key is None else source.key_deserializer(key),
            None if value is None else source.value_deserializer(value),
            message.topic,
            message.partition,
            message.offset,
            message.timestamp,
            tuple(message.headers or ()),
        )

    async def _handle_bad_record(self, message: Message, exc: Exception) -> None:
        where = f"topic {message.topic!r} partition {message.partition} offset {message.offset}"
        policy = self._source.on_error
        if policy == "fail":
            msg = f"cannot deserialize the record at {where}: {type(exc).__name__}: {exc}"
            raise ConnectorError(msg) from exc
        if policy == "skip":
            self.skipped += 1
            if worth_logging(self.skipped):
                logger.warning(
                    "skipped undeserializable record #%d at %s: %s", self.skipped, where, exc
                )
            return
        assert self._dead_letters is not None
        assert self._source.dead_letter_topic is not None
        headers = [
            *(message.headers or ()),
            ("streamrt.error.type", type(exc).__name__.encode()),
            ("streamrt.error.message", str(exc).encode("utf-8", "replace")[:4096]),
            ("streamrt.source.topic", message.topic.encode()),
            ("streamrt.source.partition", str(message.partition).encode()),
            ("streamrt.source.offset", str(message.offset).encode()),
        ]
        future = await self._dead_letters.send(
            self._source.dead_letter_topic,
            message.value,
            key=message.key,
            timestamp_ms=message.timestamp,
            headers=headers,
        )
        try:
            await future  # durable before the offset can ever be committed
        except Exception as send_error:
            msg = (
                f"cannot write the record at {where} to dead-letter topic "
                f"{self._source.dead_letter_topic!r}: {send_error}"
            )
            raise ConnectorError(msg) from send_error
        self.dead_lettered += 1

    # -- checkpoints -----------------------------------------------------------------------------
    def snapshot_state(self, checkpoint_id: int, positions: Mapping[Any, Any]) -> dict[str, Any]:
        """Remember what checkpoint ``checkpoint_id`` covers, to commit it when it completes."""
        self._pending_commits[checkpoint_id] = {p: int(o) for p, o in positions.items()}
        return {}

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Commit the checkpoint's offsets to the group (for monitoring and restarts)."""
        offsets = pop_subsuming(self._pending_commits, checkpoint_id)
        if offsets is not None:
            await self._commit(offsets)

    async def notify_job_finished(self, positions: Mapping[Any, Any]) -> None:
        """Commit the final positions after a clean finish.

        Retried a few times: another member leaving the group at the same moment makes the
        group rebalance, and a commit during a rebalance is refused until this member rejoins.
        """
        offsets = {p: int(o) for p, o in positions.items()}
        delay = 0.2
        for _ in range(5):
            if await self._commit(offsets):
                return
            await asyncio.sleep(delay)
            delay *= 2

    async def _commit(self, offsets: Mapping[Partition, int]) -> bool:
        if self._source.group_id is None:
            return True
        owned = {p: o for p, o in offsets.items() if p in self._owned}
        if not owned:
            return True
        try:
            await self._consumer.commit(owned)
        except Exception as exc:  # Flink: a failed commit is logged and counted, not fatal
            self.commits_failed += 1
            logger.warning("committing offsets %s failed: %s", owned, exc)
            return False
        self.commits_succeeded += 1
        self._committed.update(owned)
        return True

    def split_count(self) -> int | None:
        """Partitions owned and not finished."""
        return len(self._owned - self._done) if self._started else None

    # -- metrics ---------------------------------------------------------------------------------
    def connector_metrics(self) -> list[ConnectorMetric]:
        """Per partition: position, committed offset and lag; counts of skipped and DLQ'd.

        Names and meanings are declared in ``metrics/names.py``.
        """
        metrics: list[ConnectorMetric] = []
        for topic, partition in sorted(self._owned):
            labels = (("topic", topic), ("partition", str(partition)))
            position = self._positions.get((topic, partition))
            if position is not None:
                metrics.append(ConnectorMetric("kafka_source_current_offset", position, labels))
            committed = self._committed.get((topic, partition))
            if committed is not None:
                metrics.append(ConnectorMetric("kafka_source_committed_offset", committed, labels))
            highwater = self._highwater.get((topic, partition))
            if highwater is not None:
                lag = max(0, highwater - (position if position is not None else highwater))
                metrics.append(ConnectorMetric("kafka_consumer_lag", lag, labels))
        metrics += [
            ConnectorMetric("kafka_source_assigned_partitions", len(self._owned)),
            ConnectorMetric("kafka_source_records_skipped_total", self.skipped),
            ConnectorMetric("kafka_source_dead_letter_records_total", self.dead_lettered),
            ConnectorMetric("kafka_source_commits_succeeded_total", self.commits_succeeded),
            ConnectorMetric("kafka_source_commits_failed_total", self.commits_failed),
        ]
        return metrics
