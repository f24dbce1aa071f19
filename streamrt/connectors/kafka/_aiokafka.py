"""The only module that imports aiokafka: typed wrappers and error mapping (house style C14).

aiokafka is untyped; everything else in streamrt talks to Kafka through the small, typed
surface here. Partitions are plain ``(topic, partition)`` tuples outside this module. Client
errors become ``ConnectorError`` once, here, keeping aiokafka's ``retriable`` flag and the
original exception as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner

from streamrt.errors import ConnectorError

__all__ = [
    "Admin",
    "Consumer",
    "Message",
    "Partition",
    "Producer",
    "ProducerBatch",
    "connector_error",
    "default_partition",
    "describe",
]

logger = logging.getLogger(__name__)

#: A topic partition, outside this module.
Partition = tuple[str, int]

_DEFAULT_PARTITIONER = DefaultPartitioner()
_NO_HEADERS: list[tuple[str, bytes]] = []


class Message(Protocol):
    """What a fetched Kafka record offers (aiokafka's ``ConsumerRecord``)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


def describe(exc: BaseException) -> str:
    """``"Type: message"`` for an exception, without repeating what aiokafka already says.

    aiokafka's errors put their own class name in ``str()`` (``"KafkaConnectionError: ..."``,
    ``"[Error 3] UnknownTopicOrPartitionError"``); other exceptions do not.
    """
    name, text = type(exc).__name__, str(exc)
    if not text:
        return name
    return text if name in text else f"{name}: {text}"


def connector_error(what: str, exc: BaseException) -> ConnectorError:
    """``ConnectorError`` for a failed Kafka call, keeping ``retriable`` and the cause."""
    retriable = bool(getattr(exc, "retriable", False))
    error = ConnectorError(f"{what}: {describe(exc)}", retriable=retriable)
    error.__cause__ = exc
    return error


def default_partition(key: bytes | None, partitions: Sequence[int]) -> int:
    """The partition Kafka's Java client picks for ``key`` (murmur2), random when ``None``."""
    return int(_DEFAULT_PARTITIONER(key, list(partitions), list(partitions)))


async def _start_with_retry(
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    bootstrap_servers: str,
    what: str,
    attempts: int,
    timeout_s: float,
) -> None:
    """Start a client; retry with backoff; fail with one clear error when out of attempts."""
    began = time.monotonic()
    delay = 0.25
    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            await asyncio.wait_for(start(), timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            last = exc
            await stop()
            if attempt < attempts:
                logger.warning("%s: attempt %d/%d failed: %s", what, attempt, attempts, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            continue
        return
    elapsed = time.monotonic() - began
    msg = (
        f"cannot reach Kafka at {bootstrap_servers!r} for {what} after {attempts} attempts in "
        f"{elapsed:.1f} s ({describe(last) if last else 'no answer'}); check bootstrap_servers "
        "and that the broker is running"
    )
    error = ConnectorError(msg, retriable=True)
    error.__cause__ = last
    raise error


class _Client:
    """What the three clients share.

    Each is made lazily, in the running loop (a client never started needs no close), started
    with bounded retries, and stopped quietly.
    """

    #: names the client in errors ("a consumer", ...)
    what = "a client"

    def __init__(self, bootstrap_servers: str, make: Callable[[], Any]) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._make = make
        self._client: Any = None

    async def start(self, *, attempts: int = 5, timeout_s: float = 10.0) -> None:
        """Connect, retrying; raise ``ConnectorError`` naming the servers when unreachable."""
        self._client = self._make()
        await _start_with_retry(
            self._client.start,
            self._shutdown,
            self.bootstrap_servers,
            self.what,
            attempts,
            timeout_s,
        )

    async def _shutdown(self) -> None:
        await self._client.stop()

    async def stop(self) -> None:
        """Disconnect; harmless if never started."""
        if self._client is None:
            return
        try:
            await self._shutdown()
        except KafkaError as exc:
            logger.warning("stopping %s failed: %s", self.what, exc)


class Consumer(_Client):
    """A Kafka consumer (aiokafka's ``AIOKafkaConsumer``) with the calls streamrt makes."""

    what = "a consumer"

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        group_id: str | None,
        client_id: str,
        settings: Mapping[str, Any],
    ) -> None:
        config: dict[str, Any] = {
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "request_timeout_ms": 15_000,
            "metadata_max_age_ms": 30_000,
            **settings,
        }
        super().__init__(
            bootstrap_servers,
            lambda: AIOKafkaConsumer(
                bootstrap_servers=bootstrap_servers,
                group_id=group_id,
                client_id=client_id,
                **config,
            ),
        )

    async def _cluster(self) -> Any:
        """Fresh metadata of every topic (a request naming no topic: creates none)."""
        try:
            return await self._client._client.fetch_all_metadata()  # noqa: SLF001
        except KafkaError as exc:
            msg = f"listing topics at {self.bootstrap_servers}"
            raise connector_error(msg, exc) from exc

    async def topics(self) -> set[str]:
        """Every topic's name; creates none."""
        topics: set[str] = (await self._cluster()).topics()
        return topics

    async def partitions_of(self, topic: str) -> list[int]:
        """The partitions of ``topic`` (sorted); empty if it does not exist (or has none yet).

        Read from fresh metadata: the consumer's own cache knows a topic created after it
        started only once its metadata ages out.
        """
        found = (await self._cluster()).partitions_for_topic(topic)
        return sorted(found) if found else []

    async def topics_matching(self, pattern: str) -> list[str]:
        """Every topic whose name matches ``pattern`` (a regular expression, fully)."""
        regex = re.compile(pattern)
        return sorted(t for t in await self.topics() if regex.fullmatch(t))

    def assign(self, partitions: Iterable[Partition]) -> None:
        """Read exactly these partitions (no group rebalancing)."""
        self._client.assign([TopicPartition(t, p) for t, p in partitions])

    def subscribe(
        self,
        *,
        topics: Sequence[str] | None,
        pattern: str | None,
        on_assigned: Callable[[list[Partition]], Awaitable[None]],
        on_revoked: Callable[[list[Partition]], Awaitable[None]],
    ) -> None:
        """Join the group; Kafka assigns partitions and calls back on every rebalance."""

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                await on_revoked([(tp.topic, tp.partition) for tp in revoked])

            async def on_partitions_assigned(self, assigned: Any) -> None:
                await on_assigned([(tp.topic, tp.partition) for tp in assigned])

        if pattern is not None:
            self._client.subscribe(pattern=pattern, listener=Listener())
        else:
            self._client.subscribe(topics=list(topics or ()), listener=Listener())

    async def getmany(
        self, timeout_ms: int, max_records: int | None
    ) -> dict[Partition, list[Message]]:
        """Fetched messages by partition (possibly empty after ``timeout_ms``)."""
        try:
            fetched = await self._client.getmany(timeout_ms=timeout_ms, max_records=max_records)
        except KafkaError as exc:
            msg = f"fetching from {self.bootstrap_servers}"
            raise connector_error(msg, exc) from exc
        return {(tp.topic, tp.partition): messages for tp, messages in fetched.items()}

    def seek(self, partition: Partition, offset: int) -> None:
        """Read ``partition`` from ``offset`` next."""
        self._client.seek(TopicPartition(*partition), offset)

    async def seek_to_beginning(self, partitions: Sequence[Partition]) -> None:
        """Read these partitions from their first retained offset."""
        if partitions:
            await self._client.seek_to_beginning(*(TopicPartition(*p) for p in partitions))

    async def seek_to_end(self, partitions: Sequence[Partition]) -> None:
        """Read only what is written to these partitions from now on."""
        if partitions:
            await self._client.seek_to_end(*(TopicPartition(*p) for p in partitions))

    async def position(self, partition: Partition) -> int:
        """The next offset this consumer reads from ``partition``."""
        return int(await self._client.position(TopicPartition(*partition)))

    async def end_offsets(self, partitions: Sequence[Partition]) -> dict[Partition, int]:
        """The offset after the last record of each partition (the high watermark)."""
        if not partitions:
            return {}
        try:
            ends = await self._client.end_offsets([TopicPartition(*p) for p in partitions])
        except KafkaError as exc:
            msg = "reading end offsets"
            raise connector_error(msg, exc) from exc
        return {(tp.topic, tp.partition): int(o) for tp, o in ends.items()}

    def highwater(self, partition: Partition) -> int | None:
        """The end offset last seen by fetching (no request), or ``None``."""
        value = self._client.highwater(TopicPartition(*partition))
        return None if value is None else int(value)

    async def offsets_for_times(
        self, partitions: Sequence[Partition], timestamp_ms: int
    ) -> dict[Partition, int | None]:
        """The first offset at or after ``timestamp_ms`` per partition, ``None`` if none."""
        try:
            found = await self._client.offsets_for_times(
                {TopicPartition(*p): timestamp_ms for p in partitions}
            )
        except KafkaError as exc:
            msg = "looking up offsets by time"
            raise connector_error(msg, exc) from exc
        return {
            (tp.topic, tp.partition): (None if o is None else int(o.offset))
            for tp, o in found.items()
        }

    async def committed(self, partition: Partition) -> int | None:
        """The group's committed offset of ``partition``, ``None`` if nothing was committed."""
        try:
            value = await self._client.committed(TopicPartition(*partition))
        except KafkaError as exc:
            msg = f"reading the committed offset of {partition}"
            raise connector_error(msg, exc) from exc
        return None if value is None else int(value)

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Commit next-offsets-to-read for the group."""
        if offsets:
            await self._client.commit({TopicPartition(*p): o for p, o in offsets.items()})

    def pause(self, partitions: Sequence[Partition]) -> None:
        """Stop fetching these partitions."""
        self._client.pause(*(TopicPartition(*p) for p in partitions))


class ProducerBatch:
    """Records for one partition, appended without I/O (aiokafka's ``BatchBuilder``)."""

    __slots__ = ("_builder", "count")

    def __init__(self, builder: Any) -> None:
        self._builder = builder
        self.count = 0

    def append(
        self,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int | None,
        headers: Sequence[tuple[str, bytes]] | None,
    ) -> bool:
        """Add a record; ``False`` when the batch is full (send it and start another)."""
        # the C builder insists on a list; it only reads it, so one empty list serves all
        listed = headers if type(headers) is list else list(headers) if headers else _NO_HEADERS
        if (
            self._builder.append(key=key, value=value, timestamp=timestamp_ms, headers=listed)
            is None
        ):
            return False
        self.count += 1
        return True


class Producer(_Client):
    """A Kafka producer (aiokafka's ``AIOKafkaProducer``) with the calls streamrt makes.

    ``stop`` sends what is queued before disconnecting.
    """

    what = "a producer"

    def __init__(
        self, bootstrap_servers: str, *, client_id: str, settings: Mapping[str, Any]
    ) -> None:
        config: dict[str, Any] = {
            "acks": "all",
            "linger_ms": 5,
            "request_timeout_ms": 15_000,
            "max_batch_size": 256 * 1024,
            **settings,
        }
        super().__init__(
            bootstrap_servers,
            lambda: AIOKafkaProducer(
                bootstrap_servers=bootstrap_servers, client_id=client_id, **config
            ),
        )

    async def partitions_for(self, topic: str) -> list[int]:
        """The partitions of ``topic`` (callers cache them: this may wait for metadata)."""
        try:
            return sorted(await self._client.partitions_for(topic))
        except KafkaError as exc:
            msg = f"looking up the partitions of topic {topic!r}"
            raise connector_error(msg, exc) from exc

    def create_batch(self) -> ProducerBatch:
        """An empty batch for one partition."""
        return ProducerBatch(self._client.create_batch())

    def create_batch_with(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int | None,
        headers: Sequence[tuple[str, bytes]] | None,
    ) -> ProducerBatch:
        """A new batch holding one record, for when the record did not fit the last one.

        aiokafka takes any first record of a batch, even one over ``max_batch_size`` (the
        broker then refuses it, a send error); the check guards against a client that doesn't.
        """
        batch = self.create_batch()
        if not batch.append(key, value, timestamp_ms, headers):  # pragma: no cover - see above
            size = len(value or b"") + len(key or b"")
            msg = f"a record of {size} bytes does not fit a Kafka batch for topic {topic!r}"
            raise ConnectorError(msg)
        return batch

    async def send_batch(
        self, batch: ProducerBatch, topic: str, partition: int
    ) -> asyncio.Future[Any]:
        """Queue a batch; the returned future resolves when Kafka acknowledged it."""
        try:
            future: asyncio.Future[Any] = await self._client.send_batch(
                batch._builder,  # noqa: SLF001  (ProducerBatch is this module's own class)
                topic,
                partition=partition,
            )
        except KafkaError as exc:
            msg = f"sending to topic {topic!r} partition {partition}"
            raise connector_error(msg, exc) from exc
        return future

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        """Queue one record (for rare records: dead letters, control messages)."""
        try:
            future: asyncio.Future[Any] = await self._client.send(
                topic,
                value,
                key=key,
                partition=partition,
                timestamp_ms=timestamp_ms,
                headers=list(headers) if headers else None,
            )
        except KafkaError as exc:
            msg = f"sending to topic {topic!r}"
            raise connector_error(msg, exc) from exc
        return future


class Admin(_Client):
    """Topic administration (aiokafka's ``AIOKafkaAdminClient``)."""

    what = "an admin client"

    def __init__(
        self, bootstrap_servers: str, *, settings: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(
            bootstrap_servers,
            lambda: AIOKafkaAdminClient(
                bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000, **(settings or {})
            ),
        )

    async def _shutdown(self) -> None:
        await self._client.close()  # the admin client's name for stop

    async def close(self) -> None:
        """Disconnect; harmless if never started."""
        await self.stop()

    async def create_topic(self, name: str, partitions: int, replication_factor: int = 1) -> bool:
        """Create a topic; ``False`` if it already existed."""
        try:
            await self._client.create_topics(
                [NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)]
            )
        except TopicAlreadyExistsError:
            return False
        except KafkaError as exc:
            msg = f"creating topic {name!r}"
            raise connector_error(msg, exc) from exc
        return True

    async def partitions_of(self, name: str) -> int:
        """How many partitions ``name`` has (0 when it does not exist)."""
        try:
            described = await self._client.describe_topics([name])
        except KafkaError as exc:
            msg = f"describing topic {name!r}"
            raise connector_error(msg, exc) from exc
        for topic in described:
            if topic.get("topic") == name and not topic.get("error_code"):
                return len(topic.get("partitions", []))
        return 0
