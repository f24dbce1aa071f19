"""Interop with a non-Python client: Debian's kcat (librdkafka) writes the input and reads the
output of a streamrt job. kcat is installed by the test command (scripts/ensure-system-packages)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from streamrt import StreamExecutionEnvironment
from streamrt.connectors.kafka import KafkaRecord, KafkaSink, KafkaSource, json_deserializer
from tests.conftest import bounded
from tests.integration.conftest import Kafka

pytestmark = pytest.mark.kafka


def kcat(*args: str, stdin: str | None = None) -> str:
    binary = shutil.which("kcat")
    assert binary is not None, "kcat is missing: run `make test` (it installs Debian's kcat)"
    done = subprocess.run(
        [binary, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_kcat_produces_the_input_and_consumes_the_output(kafka: Kafka) -> None:
    source_topic = await kafka.create_topic(3)
    target_topic = await kafka.create_topic(3)
    lines = [f'user-{i % 5}:{{"n": {i}}}' for i in range(100)]
    kcat("-P", "-b", kafka.bootstrap, "-t", source_topic, "-K:", stdin="\n".join(lines) + "\n")

    env = StreamExecutionEnvironment(parallelism=2)
    source: KafkaSource[KafkaRecord[str, Any]] = KafkaSource(
        bootstrap_servers=kafka.bootstrap,
        topics=[source_topic],
        bounded=True,
        with_metadata=True,
        key_deserializer=bytes.decode,
        value_deserializer=json_deserializer,
    )
    sink: KafkaSink[tuple[str, int]] = KafkaSink(
        bootstrap_servers=kafka.bootstrap,
        topic=target_topic,
        key_selector=lambda kv: kv[0],
        key_serializer=str.encode,
        value_serializer=lambda kv: json.dumps({"tenfold": kv[1]}).encode(),
    )
    env.from_source(source).map(lambda r: (r.key, r.value["n"] * 10)).sink_to(sink)
    await bounded(env.execute_async("kcat interop"))

    out = kcat(
        "-C",
        "-b",
        kafka.bootstrap,
        "-t",
        target_topic,
        "-e",
        "-o",
        "beginning",
        "-q",
        "-f",
        "%k|%s|%p\n",
    )
    rows = [line.split("|") for line in out.splitlines() if line]
    assert sorted((k, json.loads(v)["tenfold"]) for k, v, _ in rows) == sorted(
        (f"user-{i % 5}", i * 10) for i in range(100)
    )
    # one key, one partition (Kafka's default murmur2 partitioning of the key)
    partitions_of_key: dict[str, set[str]] = {}
    for k, _, p in rows:
        partitions_of_key.setdefault(k, set()).add(p)
    assert all(len(p) == 1 for p in partitions_of_key.values())
