"""KafkaSource -> chain -> KafkaSink against a raw aiokafka consume/produce loop, same work.

The work per record: json parse -> keep if amount > 50 -> enrich -> json serialize -> produce.
The raw loop is what one writes by hand with aiokafka: ``getmany`` -> per record the four steps
-> ``producer.send`` -> ``flush`` at the end. The streamrt job is
``KafkaSource -> map -> filter -> map -> map -> KafkaSink`` at parallelism 1 with checkpointing
every second (offsets committed on completion). Both read the same 8-partition topic from the
beginning and write a fresh topic; cases alternate, each in its own process, so each reports
its own peak RSS. The broker is the embedded noida (or ``KAFKA_BOOTSTRAP``).

    python -m bench.kafka_throughput [--records 500000] [--rounds 3]
"""

from __future__ import annotations

import asyncio
import json
import statistics
from typing import Any

from bench.chain_throughput import enrich, keep, make_lines
from bench.kafka_cases import PARTITIONS, create_topic, main_for, measure

CASES = {
    "loop": "raw aiokafka loop",
    "streamrt": "streamrt job, object reuse off",
    "streamrt-reuse": "streamrt job, object reuse on",
}


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


async def raw_loop(bootstrap: str, source: str, target: str, records: int) -> int:
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
        loads, dumps = json.loads, json.dumps
        while read < records:
            fetched = await consumer.getmany(timeout_ms=200, max_records=2_000)
            for messages in fetched.values():
                for message in messages:
                    read += 1
                    order = loads(message.value)
                    if keep(order):
                        await producer.send(target, dumps(enrich(order)).encode())
                        written += 1
        await producer.flush()
        return written
    finally:
        await consumer.stop()
        await producer.stop()


async def streamrt_job(
    bootstrap: str, source: str, target: str, records: int, *, object_reuse: bool
) -> int:
    from streamrt import StreamExecutionEnvironment
    from streamrt.connectors.kafka import KafkaSink, KafkaSource

    env = StreamExecutionEnvironment(parallelism=1, object_reuse=object_reuse)
    env.enable_checkpointing(1_000)
    (
        env.from_source(
            KafkaSource(
                bootstrap_servers=bootstrap,
                topics=[source],
                group_id=f"bench-{target}",
                starting_offsets="earliest",
                bounded=True,
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
        .sink_to(KafkaSink(bootstrap_servers=bootstrap, topic=target))
        .name("out")
    )
    result = await env.execute_async("kafka bench")
    return result.statistics.operator("out").records_out


def run_case(case: str, bootstrap: str, source: str, records: int) -> dict[str, Any]:
    async def work(target: str) -> int:
        if case == "loop":
            return await raw_loop(bootstrap, source, target, records)
        reuse = case == "streamrt-reuse"
        return await streamrt_job(bootstrap, source, target, records, object_reuse=reuse)

    return measure(case, records, bootstrap, work)


def main() -> None:
    ran = main_for("bench.kafka_throughput", __doc__, CASES, fill, run_case, "orders")
    if ran is None:
        return
    args, broker, bootstrap, results = ran
    loop_rate = statistics.median(r["rate"] for r in results["loop"])
    print(
        f"{args.records} records over {PARTITIONS} partitions, {args.rounds} rounds, "
        f"median; broker: {'noida (embedded)' if broker else bootstrap}"
    )
    print(f"{'case':36} {'records/s':>12} {'ratio':>7} {'peak RSS':>10}")
    for case, label in CASES.items():
        rate = statistics.median(r["rate"] for r in results[case])
        rss = max(r["peak_rss_mb"] for r in results[case])
        print(f"{label:36} {rate:>12,.0f} {rate / loop_rate:>7.2f} {rss:>8.0f} MB")
    for case in ("streamrt", "streamrt-reuse"):
        ratios = [
            s["rate"] / lo["rate"] for s, lo in zip(results[case], results["loop"], strict=True)
        ]
        print(f"per-round ratios, {case}: {', '.join(f'{r:.2f}' for r in ratios)}")


if __name__ == "__main__":
    main()
