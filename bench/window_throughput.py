"""A windowed count per user from Kafka to Kafka: streamrt against a hand-written aiokafka loop.

The work: read JSON events (event time = the Kafka record timestamp, up to 500 ms out of
order), count per user in 1 s tumbling event-time windows, and write one JSON result per
(user, window) when the window closes (watermark = the least, over partitions, of the largest
timestamp seen minus 1 s). The hand-written loop does exactly that with a dict of windows and
a watermark per partition, as one writes it with aiokafka; the streamrt job is
``KafkaSource -> map(json.loads) -> key_by(user) -> window(1 s tumbling).aggregate(count)
-> map(json) -> KafkaSink`` at parallelism 1, with checkpoints every second and without (the
hand-written loop has none). Cases alternate, each in its own process; all must write the same
number of results.

    python -m bench.window_throughput [--records 500000] [--rounds 3]
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Iterable
from typing import Any

from bench.kafka_cases import PARTITIONS, create_topic, main_for, measure

USERS = 1_000
WINDOW_MS = 1_000
OUT_OF_ORDER_MS = 1_000
CASES = {
    "loop": "hand-written aiokafka loop",
    "streamrt": "streamrt, checkpoints every 1 s",
    "streamrt-no-checkpoints": "streamrt, checkpoints off",
}


def make_events(n: int) -> list[tuple[int, bytes]]:
    """``(event time, JSON)`` pairs: 5,000 events per second of event time, jittered.

    Event time ends now: a broker deletes records older than its retention (7 days) by their
    timestamps, so a fixed date in the past would leave the topic empty.
    """
    rng = random.Random(11)
    start = time.time_ns() // 1_000_000 - n // 5
    events = []
    for i in range(n):
        ts = start + i // 5 - rng.randrange(500)
        user = f"user-{rng.randrange(USERS)}"
        events.append((ts, json.dumps({"user": user, "amount": rng.randrange(1, 500)}).encode()))
    return events


async def fill(bootstrap: str, topic: str, records: int) -> None:
    from aiokafka import AIOKafkaProducer

    await create_topic(bootstrap, topic, PARTITIONS)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        events = make_events(records)
        futures = []
        for partition in range(PARTITIONS):
            batch = producer.create_batch()
            for ts, value in events[partition::PARTITIONS]:
                if batch.append(key=None, value=value, timestamp=ts) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=None, value=value, timestamp=ts)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def result_line(user: str, window_end: int, count: int) -> bytes:
    return json.dumps({"user": user, "window_end": window_end, "count": count}).encode()


async def hand_written(bootstrap: str, source: str, target: str, records: int) -> int:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        partitions = [TopicPartition(source, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        windows: dict[int, dict[str, int]] = {}  # window start -> user -> count
        highest = dict.fromkeys(partitions, -(2**63))
        read = written = 0
        loads = json.loads

        async def emit(starts: Iterable[int]) -> int:
            sent = 0
            for start in sorted(starts):
                for user, count in windows.pop(start).items():
                    await producer.send(target, result_line(user, start + WINDOW_MS, count))
                    sent += 1
            return sent

        while read < records:
            fetched = await consumer.getmany(timeout_ms=200, max_records=2_000)
            for tp, messages in fetched.items():
                for message in messages:
                    read += 1
                    ts = message.timestamp
                    start = ts - ts % WINDOW_MS
                    users = windows.get(start)
                    if users is None:
                        users = windows[start] = {}
                    user = loads(message.value)["user"]
                    users[user] = users.get(user, 0) + 1
                if messages:
                    highest[tp] = max(highest[tp], max(m.timestamp for m in messages))
            watermark = min(highest.values()) - OUT_OF_ORDER_MS - 1
            written += await emit(s for s in windows if s + WINDOW_MS - 1 <= watermark)
        written += await emit(list(windows))  # end of input: every window fires
        await producer.flush()
        return written
    finally:
        await consumer.stop()
        await producer.stop()


async def streamrt_job(bootstrap: str, source: str, target: str, *, checkpoints: bool) -> int:
    from streamrt import AggregateFunction, StreamExecutionEnvironment, WatermarkStrategy
    from streamrt.connectors.kafka import KafkaSink, KafkaSource
    from streamrt.windowing import ProcessWindowFunction, TumblingEventTimeWindows

    class Count(AggregateFunction[dict[str, Any], int, int]):
        def create_accumulator(self) -> int:
            return 0

        def add(self, value: dict[str, Any], accumulator: int) -> int:
            return accumulator + 1

        def get_result(self, accumulator: int) -> int:
            return accumulator

        def merge(self, acc_a: int, acc_b: int) -> int:
            return acc_a + acc_b

    class Emit(ProcessWindowFunction[int, bytes, str, Any]):
        def process(self, key: str, context: Any, elements: Iterable[int]) -> Iterable[bytes]:
            for count in elements:
                yield result_line(key, context.window().end, count)

    env = StreamExecutionEnvironment(parallelism=1)
    if checkpoints:
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
            WatermarkStrategy.for_bounded_out_of_orderness(OUT_OF_ORDER_MS),
            source_name="events",
        )
        .uid("events")
        .map(json.loads)
        .name("parse")
        .key_by(lambda event: event["user"])
        .window(TumblingEventTimeWindows.of(WINDOW_MS))
        .aggregate(Count(), window_function=Emit())
        .name("count per user")
        .uid("count-per-user")
        .sink_to(KafkaSink(bootstrap_servers=bootstrap, topic=target))
        .name("out")
    )
    result = await env.execute_async("window bench")
    return result.statistics.operator("out").records_out


def run_case(case: str, bootstrap: str, source: str, records: int) -> dict[str, Any]:
    async def work(target: str) -> int:
        if case == "loop":
            return await hand_written(bootstrap, source, target, records)
        return await streamrt_job(bootstrap, source, target, checkpoints=case == "streamrt")

    return measure(case, records, bootstrap, work)


def main() -> None:
    ran = main_for("bench.window_throughput", __doc__, CASES, fill, run_case, "events")
    if ran is None:
        return
    args, broker, bootstrap, results = ran
    loop_rate = statistics.median(r["rate"] for r in results["loop"])
    written = results["loop"][0]["written"]  # every case wrote as many (checked)
    print(
        f"{args.records} events over {PARTITIONS} partitions, {written} window "
        f"results, {args.rounds} rounds, median; broker: "
        f"{'noida (embedded)' if broker else bootstrap}"
    )
    print(f"{'case':30} {'records/s':>12} {'ratio':>7}")
    for case, label in CASES.items():
        rate = statistics.median(r["rate"] for r in results[case])
        print(f"{label:30} {rate:>12,.0f} {rate / loop_rate:>7.2f}")
    for case in ("streamrt", "streamrt-no-checkpoints"):
        pairs = zip(results[case], results["loop"], strict=True)
        ratios = [s["rate"] / lo["rate"] for s, lo in pairs]
        print(f"per-round ratios, {case}: {', '.join(f'{r:.2f}' for r in ratios)}")


if __name__ == "__main__":
    main()
