"""Dead letters: records a source cannot deserialize, sent raw to a topic with error headers.

The write is awaited until Kafka acknowledged it, so a dead letter is durable before the
offset of its record can ever be committed (nothing is lost between the two).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamrt.connectors.kafka._aiokafka import Message, Producer
from streamrt.errors import ConnectorError

__all__ = ["DeadLetterWriter"]


class DeadLetterWriter:
    """Writes undeserializable records of one source subtask to ``topic``.

    Attributes:
        written: how many dead letters were acknowledged.
    """

    def __init__(
        self, bootstrap_servers: str, topic: str, *, client_id: str, security: Mapping[str, Any]
    ) -> None:
        self.topic = topic
        self._producer = Producer(bootstrap_servers, client_id=client_id, settings=security)
        self.written = 0

    async def start(self, attempts: int) -> None:
        """Connect (bounded retries)."""
        await self._producer.start(attempts=attempts)

    async def stop(self) -> None:
        """Disconnect."""
        await self._producer.stop()

    async def write(self, message: Message, exc: Exception) -> None:
        """Send ``message`` raw with headers naming ``exc`` and its origin; wait for the ack.

        Raises:
            ConnectorError: the dead letter could not be written (names record and topic).
        """
        headers = [
            *(message.headers or ()),
            ("streamrt.error.type", type(exc).__name__.encode()),
            ("streamrt.error.message", str(exc).encode("utf-8", "replace")[:4096]),
            ("streamrt.source.topic", message.topic.encode()),
            ("streamrt.source.partition", str(message.partition).encode()),
            ("streamrt.source.offset", str(message.offset).encode()),
        ]
        future = await self._producer.send(
            self.topic,
            message.value,
            key=message.key,
            timestamp_ms=message.timestamp,
            headers=headers,
        )
        try:
            await future  # durable before the offset can ever be committed
        except Exception as send_error:
            msg = (
                f"cannot write the record at {where(message)} to dead-letter topic "
                f"{self.topic!r}: {send_error}"
            )
            raise ConnectorError(msg) from send_error
        self.written += 1


def where(message: Message) -> str:
    """Where a record comes from, for messages: topic, partition and offset."""
    return f"topic {message.topic!r} partition {message.partition} offset {message.offset}"
