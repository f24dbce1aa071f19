"""``KafkaSink``: writes a job's records to Kafka, in batches, without blocking the chain.

Port of the ideas of Flink's ``KafkaSink`` writer. ``write`` only appends to a list (no I/O,
no ``await``: it runs inside the chain). Between input batches the task sends what is pending
when ``max_buffered_records`` are pending *or* ``linger_ms`` after the first of them was
written (Kafka's ``linger.ms``), whichever comes first: records are serialized, partitioned
(Kafka's murmur2 on the key, as the Java client does; keyless records stick to one partition
per batch), appended to one producer batch per partition and sent with ``send_batch``. A
linger send does not wait for acknowledgements; with ``delivery="at-least-once"`` (the default)
a full buffer, every checkpoint barrier and the end of input wait for them, so a checkpoint
never covers a record Kafka has not acknowledged. A failed send fails the job naming the topic
and partition (at the next send or flush); nothing is dropped silently.

Exactly-once (Kafka transactions committed on checkpoint completion) will slot in as a third
``delivery`` mode: the writer already separates buffering (``write``), pre-commit (``flush``
before the barrier) and the completion hook (``notify_checkpoint_complete``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from streamrt.connectors.kafka._aiokafka import (
    Producer,
    ProducerBatch,
    default_partition,
    describe,
)
from streamrt.connectors.kafka.serde import bytes_serializer
from streamrt.errors import ConfigError, ConnectorError
from streamrt.runtime.sink_writer import SinkWriterContext
from streamrt.runtime.statistics import ConnectorMetric

__all__ = ["KafkaSink"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Headers = Sequence[tuple[str, bytes]]
Delivery = Literal["at-least-once", "none"]


class KafkaSink(Generic[T]):
    """Writes records to a Kafka topic.

    Args:
        bootstrap_servers: ``"host:port[,host:port...]"``.
        topic: the topic, or a function of the value that returns it.
        value_serializer / key_serializer: ``value -> bytes`` (bytes pass through by default).
        key_selector: the key of a value (serialized with ``key_serializer``); no key by default.
        headers: static headers, or a function of the value that returns them.
        partitioner: ``fn(key_bytes, partitions) -> partition``; Kafka's default otherwise.
        delivery: ``"at-least-once"`` (wait for acknowledgements at every checkpoint and at end
            of input) or ``"none"`` (do not wait at checkpoints; failures still fail the job).
        timestamp: the Kafka timestamp of each record: ``"event"`` (default, Flink's): the
            stream record's event timestamp; ``"processing"``: the time the sink sends it.
            Kafka records always carry a timestamp, and time-based retention
            (``retention.ms``) counts from it: with old or synthetic event times a broker can
            delete the output at once; use ``"processing"`` then (a record without an event
            timestamp gets the processing time either way).
        producer_settings: extra aiokafka producer settings (``compression_type``, ...). The
            sink hands aiokafka whole batches, so aiokafka's own ``linger_ms`` defaults to 0
            here; a value set here adds to ``linger_ms`` below.
        security: settings for the producer (``security_protocol``, ``sasl_*``, ``ssl_context``).
        max_buffered_records: pending records after which the task flushes before reading on.
        linger_ms: the most a record waits in the sink before it is sent (default 5 ms,
            Kafka's producer default): the sink sends when ``max_buffered_records`` are pending
            or ``linger_ms`` after the first pending record was written, whichever is first,
            even if no more input arrives. 0 sends after every input batch; -1 sends only when
            full, before checkpoint barriers and at end of input (the most throughput, but a
            record may then wait for the next checkpoint).
        connect_attempts: tries to reach the brokers at start before the job fails.

    Raises:
        ConfigError: a bad setting (checked here, before the job runs).
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str | Callable[[T], str],
        value_serializer: Callable[[Any], bytes] = bytes_serializer,
        key_serializer: Callable[[Any], bytes] = bytes_serializer,
        key_selector: Callable[[T], Any] | None = None,
        headers: Headers | Callable[[T], Headers] | None = None,
        partitioner: Callable[[bytes | None, Sequence[int]], int] | None = None,
        delivery: Delivery = "at-least-once",
        timestamp: Literal["event", "processing"] = "event",
        producer_settings: Mapping[str, Any] | None = None,
        security: Mapping[str, Any] | None = None,
        max_buffered_records: int = 10_000,
        connect_attempts: int = 5,
        linger_ms: int = 5,
    ) -> None:
        if not bootstrap_servers:
            msg = "KafkaSink needs bootstrap_servers, e.g. 'localhost:9092'"
            raise ConfigError(msg)
        if not (isinstance(topic, str) and topic) and not callable(topic):
            msg = f"KafkaSink needs a topic name or a function returning one; got {topic!r}"
            raise ConfigError(msg)
        if delivery == "exactly-once":  # type: ignore[comparison-overlap]
            msg = (
                "delivery='exactly-once' (Kafka transactions) is not available yet; "
                "use 'at-least-once'"
            )
            raise ConfigError(msg)
        if delivery not in ("at-least-once", "none"):
            msg = f"delivery must be 'at-least-once' or 'none'; got {delivery!r}"
            raise ConfigError(msg)
        if max_buffered_records < 1:
            msg = f"max_buffered_records must be >= 1; got {max_buffered_records}"
            raise ConfigError(msg)
        if isinstance(linger_ms, bool) or not isinstance(linger_ms, int) or linger_ms < -1:
            msg = f"linger_ms must be an int >= 0, or -1 (no linger bound); got {linger_ms!r}"
            raise ConfigError(msg)
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.value_serializer = value_serializer
        self.key_serializer = key_serializer
        self.key_selector = key_selector
        self.headers = headers
        self.partitioner = partitioner
        self.delivery: Delivery = delivery
        if timestamp not in ("event", "processing"):
            msg = f"timestamp must be 'event' or 'processing'; got {timestamp!r}"
            raise ConfigError(msg)
        self.timestamp = timestamp
        self.producer_settings = {
            "linger_ms": 0,  # batches arrive whole: lingering once more in aiokafka adds delay
            **dict(security or {}),
            **dict(producer_settings or {}),
        }
        self.max_buffered_records = max_buffered_records
        self.linger_ms = linger_ms
        self.connect_attempts = max(1, connect_attempts)

    def create_writer(self, context: SinkWriterContext) -> KafkaSinkWriter[T]:
        """A writer (one producer) for one subtask."""
        return KafkaSinkWriter(self, context)


class KafkaSinkWriter(Generic[T]):
    """Buffers records in ``write``; serializes, batches and sends them in ``flush``."""

    def __init__(self, sink: KafkaSink[T], context: SinkWriterContext) -> None:
        self._sink = sink
        client_id = f"streamrt-{context.job_name}-{context.operator_name}-{context.subtask_index}"
        self._producer = Producer(
            sink.bootstrap_servers, client_id=client_id, settings=sink.producer_settings
        )
        self._pending: list[tuple[T, int | None]] = []
        self._in_flight: list[tuple[asyncio.Future[Any], str, int, int]] = []
        self._sticky: dict[str, int] = {}
        self._partitions: dict[str, list[int]] = {}
        self._key_partition: dict[tuple[str, bytes], int] = {}
        self.sent: dict[str, int] = {}
        self.send_errors: dict[str, int] = {}
        self._limit = sink.max_buffered_records
        self._open = False
        context.metric_group.register(self.connector_metrics)

    async def open(self) -> None:
        """Connect; a fixed topic must exist."""
        await self._producer.start(attempts=self._sink.connect_attempts)
        self._open = True
        if isinstance(self._sink.topic, str):
            try:
                self._partitions[self._sink.topic] = await asyncio.wait_for(
                    self._producer.partitions_for(self._sink.topic), 15
                )
            except (ConnectorError, TimeoutError) as exc:
                msg = (
                    f"topic {self._sink.topic!r} is not available at "
                    f"{self._sink.bootstrap_servers}: {exc}; create it before starting the job"
                )
                raise ConnectorError(msg) from exc

    def write(self, value: T, timestamp: int | None) -> None:
        """Take a record; no I/O."""
        self._pending.append((value, timestamp))

    @property
    def available(self) -> bool:
        """False once ``max_buffered_records`` are pending: the task flushes first."""
        return len(self._pending) < self._limit

    @property
    def linger_ms(self) -> int:
        """The most a record waits before it is sent (the runtime calls ``send``)."""
        return self._sink.linger_ms

    async def send(self) -> None:
        """Send everything pending without waiting for acknowledgements (linger expired).

        Raises:
            ConnectorError: a record could not be serialized, or an earlier send failed.
        """
        if self._pending:
            await self._send_pending()
        self._check_in_flight()  # keeps only unacknowledged sends; reports failed ones

    async def flush(self, end_of_input: bool) -> None:
        """Send everything pending; with at-least-once (or at the end) wait for the acks.

        Raises:
            ConnectorError: a record could not be serialized or sent (names topic/partition).
        """
        if self._pending:
            await self._send_pending()
        if self._sink.delivery == "at-least-once" or end_of_input:
            await self._await_in_flight()
        else:
            self._check_in_flight()

    async def _send_pending(self) -> None:
        sink = self._sink
        if (
            isinstance(sink.topic, str)
            and sink.key_selector is None
            and sink.headers is None
            and sink.partitioner is None
        ):
            await self._send_pending_plain(sink.topic)
            return
        pending, self._pending = self._pending, []
        fixed_topic = sink.topic if isinstance(sink.topic, str) else None
        select_topic: Callable[[T], str] | None = (
            None if isinstance(sink.topic, str) else sink.topic
        )
        serialize_value = sink.value_serializer
        serialize_key = sink.key_serializer
        key_of = sink.key_selector
        headers_of = sink.headers if callable(sink.headers) else None
        static_headers = None if callable(sink.headers) else sink.headers
        with_time = sink.timestamp == "event"
        batches: dict[tuple[str, int], ProducerBatch] = {}
        known = self._partitions
        for value, timestamp in pending:
            try:
                topic = fixed_topic if select_topic is None else select_topic(value)
                assert topic is not None
                key = None if key_of is None else serialize_key(key_of(value))
                payload = serialize_value(value)
                headers = headers_of(value) if headers_of is not None else static_headers
            except Exception as exc:
                raise _serialize_error(fixed_topic or "the selected topic", value, exc) from exc
            partitions = known.get(topic)
            if partitions is None:  # the only await per new topic, not per record
                partitions = known[topic] = await self._producer.partitions_for(topic)
            partition = self._partition(topic, key, partitions)
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[(topic, partition)] = self._producer.create_batch()
            ts = timestamp if with_time else None
            if not batch.append(key, payload, ts, headers):
                batch = batches[(topic, partition)] = await self._roll_over(
                    batch, topic, partition, (key, payload, ts, headers)
                )
            if key is None and batch.count >= 2_000:  # spread keyless records: next partition
                self._sticky.pop(topic, None)
        for (topic, partition), batch in batches.items():
            if batch.count:
                await self._send(batch, topic, partition)
        self._sticky.clear()  # the next flush starts on another partition

    async def _send_pending_plain(self, topic: str) -> None:
        """The common case, kept tight: one topic, no keys, no headers.

        Records stick to one partition per batch (Kafka's sticky partitioning of keyless
        records); each full batch moves on to another partition.
        """
        pending, self._pending = self._pending, []
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = await self._producer.partitions_for(topic)
        serialize = self._sink.value_serializer
        with_time = self._sink.timestamp == "event"
        partition = default_partition(None, partitions)
        batch = self._producer.create_batch()
        append = batch.append
        for value, timestamp in pending:
            try:
                payload = serialize(value)
            except Exception as exc:
                raise _serialize_error(topic, value, exc) from exc
            ts = timestamp if with_time else None
            if not append(None, payload, ts, None):
                batch = await self._roll_over(batch, topic, partition, (None, payload, ts, None))
                append = batch.append
                partition = default_partition(None, partitions)  # the next batch goes elsewhere
        if batch.count:
            await self._send(batch, topic, partition)

    async def _roll_over(
        self,
        full: ProducerBatch,
        topic: str,
        partition: int,
        record: tuple[bytes | None, bytes, int | None, Headers | None],
    ) -> ProducerBatch:
        """Send the full batch; return a new one holding the record that did not fit."""
        await self._send(full, topic, partition)
        return self._producer.create_batch_with(topic, *record)

    def _partition(self, topic: str, key: bytes | None, partitions: list[int]) -> int:
        if self._sink.partitioner is not None:
            return self._sink.partitioner(key, partitions)
        if key is None:
            partition = self._sticky.get(topic)
            if partition is None:
                partition = self._sticky[topic] = default_partition(None, partitions)
            return partition
        cached = self._key_partition.get((topic, key))
        if cached is None:  # murmur2 is pure Python: worth caching for repeating keys
            if len(self._key_partition) > 100_000:
                self._key_partition.clear()
            cached = self._key_partition[(topic, key)] = default_partition(key, partitions)
        return cached

    async def _send(self, batch: ProducerBatch, topic: str, partition: int) -> None:
        future = await self._producer.send_batch(batch, topic, partition)
        self._in_flight.append((future, topic, partition, batch.count))

    async def _await_in_flight(self) -> None:
        in_flight, self._in_flight = self._in_flight, []
        if not in_flight:
            return
        await asyncio.gather(*(f for f, *_ in in_flight), return_exceptions=True)
        self._account(in_flight)

    def _check_in_flight(self) -> None:
        done = [entry for entry in self._in_flight if entry[0].done()]
        self._in_flight = [entry for entry in self._in_flight if not entry[0].done()]
        self._account(done)

    def _account(self, finished: list[tuple[asyncio.Future[Any], str, int, int]]) -> None:
        failure: tuple[BaseException, str, int, int] | None = None
        for future, topic, partition, count in finished:
            error = future.exception()
            if error is None:
                self.sent[topic] = self.sent.get(topic, 0) + count
            else:
                self.send_errors[topic] = self.send_errors.get(topic, 0) + count
                failure = failure or (error, topic, partition, count)
        if failure is not None:
            error, topic, partition, count = failure
            msg = (
                f"sending {count} records to topic {topic!r} partition {partition} failed: "
                f"{describe(error)}"
            )
            raise ConnectorError(msg, retriable=bool(getattr(error, "retriable", False))) from error

    def state_dict(self) -> dict[str, Any]:
        """At-least-once keeps no state: flushing before the barrier is enough."""
        return {}

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Nothing to commit for at-least-once (transactions will commit here)."""

    async def close(self) -> None:
        """Disconnect (what was flushed is delivered; unflushed records die with a failure)."""
        if self._open:
            self._open = False
            await self._producer.stop()

    def connector_metrics(self) -> list[ConnectorMetric]:
        """Records acknowledged and records whose send failed, per topic written to."""
        metrics: list[ConnectorMetric] = []
        for topic in sorted({*self.sent, *self.send_errors}):
            labels = (("topic", topic),)
            metrics.append(
                ConnectorMetric("kafka_sink_records_sent_total", self.sent.get(topic, 0), labels)
            )
            metrics.append(
                ConnectorMetric(
                    "kafka_sink_send_errors_total", self.send_errors.get(topic, 0), labels
                )
            )
        return metrics


def _serialize_error(topic: str, value: object, exc: Exception) -> ConnectorError:
    msg = (
        f"cannot serialize a record for {topic!r}: {type(exc).__name__}: {exc} "
        f"(value: {value!r:.200})"
    )
    return ConnectorError(msg)
