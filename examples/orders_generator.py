"""Writes synthetic orders to a Kafka topic, about 1 in 200 of them malformed.

    python -m examples.orders_generator --bootstrap localhost:9092 --topic orders \\
        [--count N | forever] [--rate 20000]

Used by the demo (``make run``) and by ``docker-compose.yml``. Orders are JSON lines keyed by
user, with their creation time ``ts`` (epoch ms, the demo's event time); the malformed ones are
cut off mid-document, as a crashed producer would leave them.

SIGTERM (``docker compose stop``) and Ctrl-C stop it promptly: the producer flushes what it
has sent and the process exits 0. (As PID 1 in a container, Python gets no default SIGTERM
action, so without a handler Docker would wait out the grace period and SIGKILL it.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

COUNTRIES = ["DE", "FR", "NL", "PL", "SE", "ES", "IT", "US"]


def make_order(i: int, now_ms: int) -> tuple[bytes, bytes]:
    """Order ``i`` as (key, JSON value); every 200th value is malformed."""
    h = (i * 2_654_435_761) & 0xFFFFFFFF  # Knuth's multiplicative hash: cheap, well spread
    user = f"user-{h % 10_000}"
    if i % 200 == 199:
        return user.encode(), f'{{"order_id": {i}, "amount": '.encode()
    order = {
        "order_id": i,
        "user": user,
        "country": COUNTRIES[(h >> 8) % len(COUNTRIES)],
        "amount": round((h >> 12) % 40_500 / 100 - 5, 2),  # a few refunds are negative
        "ts": now_ms,
    }
    return user.encode(), json.dumps(order).encode()


async def ensure_topics(bootstrap: str, topics: dict[str, int]) -> None:
    """Create the topics (name -> partitions) that do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for name, partitions in topics.items():
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, num_partitions=partitions, replication_factor=1)]
                )
    finally:
        await admin.close()


class Generator:
    """Produces orders at a steady rate; ``produced`` counts what Kafka acknowledged."""

    def __init__(self, bootstrap: str, topic: str, count: int | None, rate: float) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.count = count
        self.rate = rate
        self.produced = 0

    async def run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=20)
        await producer.start()
        try:
            start = time.monotonic()
            i = 0
            tick = max(1, int(self.rate / 20))  # 20 bursts a second
            while self.count is None or i < self.count:
                n = tick if self.count is None else min(tick, self.count - i)
                now_ms = time.time_ns() // 1_000_000
                futures = [
                    await producer.send(self.topic, v, key=k)
                    for k, v in (make_order(j, now_ms) for j in range(i, i + n))
                ]
                await asyncio.gather(*futures)
                i += n
                self.produced = i
                delay = start + i / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="write synthetic orders to Kafka")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", default="orders")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--count", default="forever", help="how many, or 'forever'")
    parser.add_argument("--rate", type=float, default=2_000, help="orders per second")
    args = parser.parse_args()
    count = None if args.count == "forever" else int(args.count)

    async def produce() -> None:
        await ensure_topics(args.bootstrap, {args.topic: args.partitions})
        print(f"generator: writing to {args.topic!r} on {args.bootstrap}", flush=True)
        await Generator(args.bootstrap, args.topic, count, args.rate).run()

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        stopped: list[int] = []

        def on_signal(signum: int) -> None:
            stopped.append(signum)
            task.cancel()  # Generator.run's finally stops (flushes) the producer

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)
        try:
            await produce()
        except asyncio.CancelledError:
            if not stopped:
                raise
            task.uncancel()
            print(f"generator: stopped by {signal.Signals(stopped[0]).name}", flush=True)

    asyncio.run(run())


if __name__ == "__main__":
    main()
