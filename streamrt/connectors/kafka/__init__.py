"""Kafka connectors: ``KafkaSource``, ``KafkaSink``, Kafka-topic edges, and serializers.

Layout: ``_aiokafka`` (the only module importing aiokafka), ``serde`` (ready-made
(de)serializers), ``source``, ``sink``, ``edge`` (a job edge through a topic).
"""

from streamrt.connectors.kafka.record import KafkaRecord
from streamrt.connectors.kafka.serde import (
    bytes_deserializer,
    bytes_serializer,
    json_deserializer,
    json_serializer,
    pickle_deserializer,
    pickle_serializer,
    string_deserializer,
    string_serializer,
)
from streamrt.connectors.kafka.sink import KafkaSink
from streamrt.connectors.kafka.source import KafkaSource

__all__ = [
    "KafkaRecord",
    "KafkaSink",
    "KafkaSource",
    "bytes_deserializer",
    "bytes_serializer",
    "json_deserializer",
    "json_serializer",
    "pickle_deserializer",
    "pickle_serializer",
    "string_deserializer",
    "string_serializer",
]
