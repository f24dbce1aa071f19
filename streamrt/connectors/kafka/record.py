"""``KafkaRecord``: a Kafka record with its metadata, as ``with_metadata=True`` emits it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from streamrt.runtime.copying import copy_value, register_copier

__all__ = ["KafkaRecord"]

K = TypeVar("K")
V = TypeVar("V")


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
