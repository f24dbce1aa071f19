"""``KafkaSource``: reads topics into a job, with checkpointed offsets.

Port of the ideas of Flink's ``KafkaSource``: every partition is a split; offsets (the next
offset to read) travel in checkpoints; they are committed to Kafka only when a checkpoint
completes, or when the job finishes cleanly, so a crash replays from the last committed offsets
and loses nothing (at-least-once). Differences: besides Flink's explicit assignment
(``mode="assigned"``) there is a ``mode="group"`` in which Kafka's group protocol assigns the
partitions, so several workers can share the load without a coordinator of ours.

A ``KafkaSource`` is a frozen description, validated once when it is made; each subtask reads
with its own ``KafkaSourceReader`` (``source_reader``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from streamrt.connectors.kafka._aiokafka import Partition
from streamrt.connectors.kafka.record import KafkaRecord
from streamrt.connectors.kafka.serde import bytes_deserializer
from streamrt.connectors.kafka.source_reader import KafkaSourceReader
from streamrt.errors import ConfigError
from streamrt.runtime.source_reader import SourceReaderContext

__all__ = ["BadRecordPolicy", "KafkaRecord", "KafkaSource", "StartingOffsets"]

T = TypeVar("T")

StartingOffsets = Literal["earliest", "latest", "committed"] | int
#: What a source does with a record it cannot deserialize.
BadRecordPolicy = Literal["fail", "skip", "dead_letter"]
Mode = Literal["group", "assigned"]


@dataclass(frozen=True, kw_only=True)
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
            ``"earliest"``, ``"latest"``, ``"committed"`` (the group's committed offset; a
            partition the group never committed starts by ``offset_reset``), or a timestamp in
            epoch ms (the first record at or after it; a partition without one starts at its
            end). Default: committed with a group, else earliest. A restore from a checkpoint
            overrides it.
        offset_reset: where ``"committed"`` starts a partition without a committed offset:
            ``"earliest"`` (default) or ``"latest"`` (Flink's ``OffsetResetStrategy``).
        bounded: stop at the end offsets seen when each partition is first assigned (backfills,
            tests); the job then finishes by itself. Needs assigned mode.
        value_deserializer / key_deserializer: ``bytes -> value``; raw bytes by default.
        with_metadata: emit ``KafkaRecord``s (key, value, topic, partition, offset, timestamp,
            headers) instead of bare values.
        on_error: what to do with a record that fails to deserialize: ``"fail"`` (stop the job,
            naming topic, partition and offset), ``"skip"`` (count it and go on) or
            ``"dead_letter"`` (send the raw record to ``dead_letter_topic`` with error headers).
        dead_letter_topic: where dead letters go (implies ``on_error="dead_letter"``).
        consumer_settings: extra aiokafka consumer settings; they override the source's own
            (``fetch_max_wait_ms`` from ``fetch_timeout_ms``, and the fetch limits below).
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
        wait_for_topics: when a topic in ``topics`` does not exist at start, wait for it to be
            created (checking every second; the job is not ready meanwhile) instead of failing.
            Either way the source never creates a topic.

    Memory: a reader holds at most one fetch response per partition, and takes the next one
    only when the task takes its records, so a slow downstream stops the fetching (aiokafka asks
    for a partition again only once its last response was read). The source sets
    ``max_partition_fetch_bytes`` and ``fetch_max_bytes`` to 1 MiB (``source_reader.FETCH_LIMITS``;
    aiokafka's ``fetch_max_bytes`` default is 50 MiB), so a reader holds at most about
    ``partitions x (1 MiB + one record batch)`` of raw records on a broker that honours either
    limit (Kafka honours both; Tansu only ``fetch_max_bytes``), plus the decoded records of at
    most three fetches (``max_batch_records`` each) on their way into the job. A broker that
    honours neither (the embedded noida answers every fetch with the rest of the partition)
    defeats this: aiokafka reads a response whole and no client setting limits it.

    Raises:
        ConfigError: contradictory or missing settings (checked here, before the job runs).
    """

    bootstrap_servers: str
    topics: Sequence[str] | None = None
    topic_pattern: str | None = None
    group_id: str | None = None
    mode: Mode | None = None
    partitions: Sequence[Partition] | None = None
    starting_offsets: StartingOffsets | None = None
    offset_reset: Literal["earliest", "latest"] = "earliest"
    bounded: bool = False
    value_deserializer: Callable[[bytes], Any] = bytes_deserializer
    key_deserializer: Callable[[bytes], Any] = bytes_deserializer
    with_metadata: bool = False
    on_error: BadRecordPolicy | None = None
    dead_letter_topic: str | None = None
    consumer_settings: Mapping[str, Any] = field(default_factory=dict)
    security: Mapping[str, Any] = field(default_factory=dict)
    max_batch_records: int = 2_000
    fetch_timeout_ms: int = 100
    connect_attempts: int = 5
    wait_for_topics: bool = False

    def __post_init__(self) -> None:
        _check_where_to_read(
            self.bootstrap_servers, self.topics, self.topic_pattern, self.partitions
        )
        mode = _resolve_mode(self.mode, self.group_id, self.partitions, self.bounded)
        resolved: dict[str, Any] = {
            "topics": None if self.topics is None else tuple(self.topics),
            "partitions": (
                None
                if self.partitions is None
                else tuple((str(t), int(p)) for t, p in self.partitions)
            ),
            "mode": mode,
            "starting_offsets": _resolve_starting_offsets(self.starting_offsets, self.group_id),
            "on_error": _resolve_on_error(self.on_error, self.dead_letter_topic),
            "consumer_settings": dict(self.consumer_settings or {}),
            "security": dict(self.security or {}),
            "connect_attempts": max(1, self.connect_attempts),
        }
        if self.offset_reset not in ("earliest", "latest"):
            msg = f"offset_reset must be 'earliest' or 'latest'; got {self.offset_reset!r}"
            raise ConfigError(msg)
        if self.max_batch_records < 1:
            msg = f"max_batch_records must be >= 1; got {self.max_batch_records}"
            raise ConfigError(msg)
        if self.fetch_timeout_ms < 0:
            msg = f"fetch_timeout_ms must be >= 0; got {self.fetch_timeout_ms}"
            raise ConfigError(msg)
        for name, value in resolved.items():  # normalized once; frozen from here on
            object.__setattr__(self, name, value)

    def create_reader(self, context: SourceReaderContext) -> KafkaSourceReader[T]:
        """The reader of one subtask."""
        return KafkaSourceReader(self, context)


def _check_where_to_read(
    bootstrap_servers: str,
    topics: Sequence[str] | None,
    topic_pattern: str | None,
    partitions: Sequence[Partition] | None,
) -> None:
    if not bootstrap_servers:
        msg = "KafkaSource needs bootstrap_servers, e.g. 'localhost:9092'"
        raise ConfigError(msg)
    if sum(x is not None for x in (topics, topic_pattern, partitions)) != 1:
        msg = "KafkaSource needs exactly one of topics=, topic_pattern= or partitions="
        raise ConfigError(msg)
    if topics is not None and (isinstance(topics, str) or not topics):
        msg = f"topics must be a non-empty list of topic names; got {topics!r}"
        raise ConfigError(msg)


def _resolve_mode(
    mode: Mode | None, group_id: str | None, partitions: object, bounded: bool
) -> Mode:
    if mode is None:
        mode = (
            "group" if group_id is not None and partitions is None and not bounded else "assigned"
        )
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
    return mode


def _resolve_starting_offsets(
    starting_offsets: StartingOffsets | None, group_id: str | None
) -> StartingOffsets:
    if starting_offsets is None:
        return "committed" if group_id is not None else "earliest"
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
    return starting_offsets


def _resolve_on_error(
    on_error: BadRecordPolicy | None, dead_letter_topic: str | None
) -> BadRecordPolicy:
    if dead_letter_topic is not None and on_error in (None, "dead_letter"):
        on_error = "dead_letter"
    on_error = on_error or "fail"
    if on_error not in ("fail", "skip", "dead_letter"):
        msg = f"on_error must be 'fail', 'skip' or 'dead_letter'; got {on_error!r}"
        raise ConfigError(msg)
    if on_error == "dead_letter" and not dead_letter_topic:
        msg = "on_error='dead_letter' needs dead_letter_topic="
        raise ConfigError(msg)
    return on_error
