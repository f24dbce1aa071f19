"""KafkaSource -> chain -> KafkaSink against a raw aiokafka consume/produce loop, same work.

The work per record: json parse -> keep if amount > 50 -> enrich -> json serialize -> produce.
The raw loop is what one writes by hand with aiokafka: ``getmany`` -> per record the four steps
-> ``producer.send`` -> ``flush`` at the end. The streamrt job is
``KafkaSource -> map -> filter -> map -> map -> KafkaSink`` at parallelism 1 with checkpointing
every second (offsets committed on completion). Both read the same 8-partition topic from the
beginning and write a fresh topic; cases alternate, each in its own process, so each reports
its own peak RSS. The broker is the embedded noida (or ``KAFKA_BOOTSTRAP``).

The first three cases do the same work with the stdlib's json in user code. Two more use
orjson, reported separately: the raw loop calling ``orjson.loads``/``orjson.dumps``, and the
streamrt job with the ready-made serde (``KafkaSource(value_deserializer=json_deserializer)
-> filter -> map -> KafkaSink(value_serializer=json_serializer)``, so two chained operators
instead of four). Each case's ratio is to the stdlib loop of the same round (median, per-round
ratios and their min-max), the orjson job's also to the orjson loop.

    python -m bench.kafka_throughput [--records 500000] [--rounds 5]
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Callable
from typing import Any

import orjson

from bench.chain_throughput import enrich, keep, make_lines
from bench.kafka_cases import PARTITIONS, create_topic, main_for, measure

CASES = {
    "loop": "raw aiokafka loop",
    "streamrt": "streamrt job, object reuse off",
    "streamrt-reuse": "streamrt job, object reuse on",
    "loop-orjson": "raw loop, orjson",
    "streamrt-serde": "streamrt job, json serde (orjson)",
}


def stdlib_dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


async def fill(bootstrap: str, topic: str, records: int) -> None:
    from aiokafka import AIOKafkaProducer

    await create_topic(bootstrap, topic, PARTITIONS)
    lines = make_lines(records)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        per_partition = [lines[p::PARTITIONS] for p in range(PARTITIONS)]
        futures = []
        for partition, chunk in enumerate(per_partition):
            batch = producer.create_batch()
            for line in chunk:
                if batch.append(key=None, value=line.encode(), timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=None, value=line.encode(), timestamp=None)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_loop(
    bootstrap: str,
    source: str,
    target: str,
    records: int,
    loads: Callable[[bytes], Any],
    dumps: Callable[[Any], bytes],
) -> int:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        partitions = [TopicPartition(source, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        read = written = 0
        while read < records:
            fetched = await consumer.getmany(timeout_ms=200, max_records=2_000)
            for messages in fetched.values():
                for message in messages:
                    read += 1
                    order = loads(message.value)
                    if keep(order):
                        await producer.send(target, dumps(enrich(order)))
                        written += 1
        await producer.flush()
        return written
    finally:
        await consumer.stop()
        await producer.stop()


def etl_pipeline(
    env: Any, bootstrap: str, source: str, target: str, sink: Any = None, **source_settings: Any
) -> None:
    """The benchmark's job on ``env``: read ``source``, parse, keep, enrich, write ``target``.

    ``sink`` replaces the ``KafkaSink`` to ``target`` (``bench.memory`` throttles it);
    ``source_settings`` go to the ``KafkaSource``.
    """
    from streamrt.connectors.kafka import KafkaSink, KafkaSource

    (
        env.from_source(
            KafkaSource(
                bootstrap_servers=bootstrap,
                topics=[source],
                group_id=f"bench-{target}",
                starting_offsets="earliest",
                bounded=True,
                **source_settings,
            ),
            source_name="orders",
        )
        .uid("orders")
        .map(json.loads)
        .name("parse")
        .filter(keep)
        .name("keep")
        .map(enrich)
        .name("enrich")
        .map(lambda order: json.dumps(order).encode())
        .name("serialize")
        .sink_to(sink or KafkaSink(bootstrap_servers=bootstrap, topic=target))
        .name("out")
    )


async def streamrt_job(
    bootstrap: str, source: str, target: str, records: int, *, object_reuse: bool
) -> int:
    from streamrt import StreamExecutionEnvironment

    env = StreamExecutionEnvironment(parallelism=1, object_reuse=object_reuse)
    env.enable_checkpointing(1_000)
    etl_pipeline(env, bootstrap, source, target)
    result = await env.execute_async("kafka bench")
    return result.statistics.operator("out").records_out


async def streamrt_serde_job(bootstrap: str, source: str, target: str, records: int) -> int:
    """The same job with the ready-made JSON serde on the source and the sink (reuse off)."""
    from streamrt import StreamExecutionEnvironment
    from streamrt.connectors.kafka import (
        KafkaSink,
        KafkaSource,
        json_deserializer,
        json_serializer,
    )

    env = StreamExecutionEnvironment(parallelism=1)
    env.enable_checkpointing(1_000)
    (
        env.from_source(
            KafkaSource(
                bootstrap_servers=bootstrap,
                topics=[source],
                group_id=f"bench-{target}",
                starting_offsets="earliest",
                bounded=True,
                value_deserializer=json_deserializer,
            ),
            source_name="orders",
        )
        .uid("orders")
        .filter(keep)
        .name("keep")
        .map(enrich)
        .name("enrich")
        .sink_to(
            KafkaSink(bootstrap_servers=bootstrap, topic=target, value_serializer=json_serializer)
        )
        .name("out")
    )
    result = await env.execute_async("kafka bench")
    return result.statistics.operator("out").records_out


def run_case(case: str, bootstrap: str, source: str, records: int) -> dict[str, Any]:
    async def work(target: str) -> int:
        if case == "loop":
            return await raw_loop(bootstrap, source, target, records, json.loads, stdlib_dumps)
        if case == "loop-orjson":
            return await raw_loop(bootstrap, source, target, records, orjson.loads, orjson.dumps)
        if case == "streamrt-serde":
            return await streamrt_serde_job(bootstrap, source, target, records)
        reuse = case == "streamrt-reuse"
        return await streamrt_job(bootstrap, source, target, records, object_reuse=reuse)

    return measure(case, records, bootstrap, work)


def main() -> None:
    ran = main_for("bench.kafka_throughput", __doc__, CASES, fill, run_case, "orders", rounds=5)
    if ran is None:
        return
    args, broker, bootstrap, results = ran
    print(
        f"{args.records} records over {PARTITIONS} partitions, {args.rounds} rounds, "
        f"median [min-max of the rounds]; broker: {'noida (embedded)' if broker else bootstrap}"
    )
    print(
        f"{'case':34} {'records/s':>24} {'ratio to loop':>18} {'CPU us/record':>19} {'peak RSS':>9}"
    )

    def spread(values: list[float], form: str) -> str:
        low, mid, high = (
            format(v, form) for v in (min(values), statistics.median(values), max(values))
        )
        return f"{mid} [{low}-{high}]"

    def ratios(case: str, base: str) -> list[float]:
        pairs = zip(results[case], results[base], strict=True)
        return [run["rate"] / loop["rate"] for run, loop in pairs]

    for case, label in CASES.items():
        rates = [r["rate"] for r in results[case]]
        cpu = [r["cpu_us_per_record"] for r in results[case]]
        rss = max(r["peak_rss_mb"] for r in results[case])
        print(
            f"{label:34} {spread(rates, ',.0f'):>24} {spread(ratios(case, 'loop'), '.2f'):>18} "
            f"{spread(cpu, '.1f'):>19} {rss:>6.0f} MB"
        )
    for case, base in [
        ("streamrt", "loop"),
        ("streamrt-reuse", "loop"),
        ("streamrt-serde", "loop"),
        ("streamrt-serde", "loop-orjson"),
        ("loop-orjson", "loop"),
    ]:
        each = ratios(case, base)
        print(
            f"per-round ratios, {case} / {base}: {', '.join(f'{r:.2f}' for r in each)} "
            f"(median {statistics.median(each):.2f}, min-max {min(each):.2f}-{max(each):.2f})"
        )


if __name__ == "__main__":
    main()
