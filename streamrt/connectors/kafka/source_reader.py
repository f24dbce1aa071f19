"""``KafkaSourceReader``: reads the partitions of one ``KafkaSource`` subtask.

Records are fetched in batches (``getmany``) and deserialized per batch; the task never awaits
per record. The reader takes its partitions (assigned mode) or follows the group's
assignments, applies starting offsets or restored positions, stops bounded partitions at their
end offsets, handles undeserializable records by the source's policy, commits the offsets a
completed checkpoint covers, and reports its metrics through its context's metric group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from streamrt.connectors.kafka._aiokafka import Consumer, Message, Partition
from streamrt.connectors.kafka.dead_letters import DeadLetterWriter, where
from streamrt.connectors.kafka.record import KafkaRecord
from streamrt.errors import ConnectorError
from streamrt.runtime.checkpoint_subsumption import pop_subsuming
from streamrt.runtime.failed_records import worth_logging
from streamrt.runtime.source_reader import SourceBatch, SourceReaderContext
from streamrt.runtime.statistics import ConnectorMetric

if TYPE_CHECKING:
    from streamrt.connectors.kafka.source import KafkaSource

__all__ = ["KafkaSourceReader"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: how often a source told to wait for its topics checks for them
_TOPIC_POLL_S = 1.0

#: Consumer settings that bound what one source reader holds (``consumer_settings`` override
#: them). aiokafka keeps at most one fetch response per partition and asks for a partition again
#: only once its records were taken, so the raw bytes held are at most partitions x the per-fetch
#: limit, plus one record batch each (a broker always returns at least one whole batch). Kafka
#: honours ``max_partition_fetch_bytes`` (1 MiB, as in Kafka's own client); Tansu ignores it and
#: honours only ``fetch_max_bytes``, whose aiokafka default (50 MiB) would let each partition
#: hold 50 MiB there, so it is 1 MiB too. Consuming at ~300 k records/s needs only ~40 such
#: fetches a second.
FETCH_LIMITS: Mapping[str, int] = {
    "max_partition_fetch_bytes": 1 << 20,
    "fetch_max_bytes": 1 << 20,
}


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
                **FETCH_LIMITS,
                **source.security,
                **source.consumer_settings,
            },
        )
        self._dead_letters: DeadLetterWriter | None = None
        if source.dead_letter_topic is not None and source.on_error == "dead_letter":
            self._dead_letters = DeadLetterWriter(
                source.bootstrap_servers,
                source.dead_letter_topic,
                client_id=f"{client_id}-dlq",
                security=source.security,
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
        self.commits_succeeded = 0
        self.commits_failed = 0
        self._started = False
        self._assignment_seen = False  # bounded: a reader given no partitions is done at once
        context.metric_group.register(self.connector_metrics)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, and take partitions (assigned mode) or join the group."""
        attempts = self._source.connect_attempts
        await self._consumer.start(attempts=attempts)
        self._started = True
        if self._dead_letters is not None:
            await self._dead_letters.start(attempts)
        source = self._source
        if source.topics is not None:
            await self._require_topics(source.topics)
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

    async def _require_topics(self, topics: Sequence[str]) -> None:
        """Refuse (or, with ``wait_for_topics``, wait for) topics that do not exist.

        Checked by listing topics, which creates none: a subscription or a metadata request
        naming a missing topic would make a broker with auto-creation create it, with its
        default partition count, as a side effect of reading.
        """
        source = self._source
        logged = False
        while True:
            # a topic just created can be listed before its partitions are: wait for those
            missing = [t for t in sorted(set(topics)) if not await self._consumer.partitions_of(t)]
            if not missing:
                return
            if not source.wait_for_topics:
                names = ", ".join(map(repr, missing))
                what, exist, it = (
                    ("topic", "does not exist", "it")
                    if len(missing) == 1
                    else ("topics", "do not exist", "them")
                )
                msg = (
                    f"{what} {names} {exist} at {source.bootstrap_servers}; create {it} (with "
                    "the partition count you need) before starting the job, or pass "
                    "wait_for_topics=True to wait for it"
                )
                raise ConnectorError(msg)
            if not logged:
                logger.warning("waiting for topics %s to be created", ", ".join(missing))
                logged = True
            await asyncio.sleep(_TOPIC_POLL_S)

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
        consumer = self._consumer
        for partition in fresh:
            if partition in self._restored:
                consumer.seek(partition, self._restored[partition])
        await self._seek_to_start([p for p in fresh if p not in self._restored])
        if self._source.bounded:
            ends = await consumer.end_offsets(fresh)
            for partition in fresh:
                self._end[partition] = ends[partition]
                if await consumer.position(partition) >= ends[partition]:
                    self._finish(partition)

    async def _seek_to_start(self, partitions: list[Partition]) -> None:
        """Position partitions that no checkpoint knows by ``starting_offsets``."""
        consumer, start = self._consumer, self._source.starting_offsets
        if start == "earliest":
            await consumer.seek_to_beginning(partitions)
        elif start == "latest":
            await consumer.seek_to_end(partitions)
            for partition in partitions:  # resolve now: "latest" means as of the start
                await consumer.position(partition)
        elif start == "committed":
            # the others resume where the group left off
            unset = [p for p in partitions if await consumer.committed(p) is None]
            if self._source.offset_reset == "earliest":
                await consumer.seek_to_beginning(unset)
            else:
                await consumer.seek_to_end(unset)
        else:
            assert start is not None  # KafkaSource resolved the default
            found = await consumer.offsets_for_times(partitions, int(start))
            for partition in partitions:
                offset = found.get(partition)
                if offset is None:
                    await consumer.seek_to_end([partition])
                else:
                    consumer.seek(partition, offset)

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
            timestamps = [m.timestamp for m in messages]
            return SourceBatch(values, partition, timestamps, position, handed_over=True)
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
        return SourceBatch(values, partition, timestamps, position, handed_over=True)

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
        policy = self._source.on_error
        if policy == "fail":
            msg = f"cannot deserialize the record at {where(message)}: {type(exc).__name__}: {exc}"
            raise ConnectorError(msg) from exc
        if policy == "skip":
            self.skipped += 1
            if worth_logging(self.skipped):
                logger.warning(
                    "skipped undeserializable record #%d at %s: %s",
                    self.skipped,
                    where(message),
                    exc,
                )
            return
        assert self._dead_letters is not None
        await self._dead_letters.write(message, exc)

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
        Every position the task still holds is committed, owned now or not: a rebalance that
        revoked a partition while the job was finishing (its fetch loop no longer running to
        take it back) must not drop the offsets of what this job read from it.
        """
        offsets = {p: int(o) for p, o in positions.items()}
        delay = 0.2
        for _ in range(5):
            if await self._commit(offsets, owned_only=False):
                return
            await asyncio.sleep(delay)
            delay *= 2

    async def _commit(self, offsets: Mapping[Partition, int], *, owned_only: bool = True) -> bool:
        if self._source.group_id is None:
            return True
        owned = {p: o for p, o in offsets.items() if not owned_only or p in self._owned}
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
            ConnectorMetric(
                "kafka_source_dead_letter_records_total",
                self._dead_letters.written if self._dead_letters else 0,
            ),
            ConnectorMetric("kafka_source_commits_succeeded_total", self.commits_succeeded),
            ConnectorMetric("kafka_source_commits_failed_total", self.commits_failed),
        ]
        return metrics
