"""KafkaSource and KafkaSink against a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter as Tally
from typing import Any

import pytest

from streamrt import (
    ConfigError,
    DataStream,
    OperatorError,
    StreamExecutionEnvironment,
    WatermarkStrategy,
)
from streamrt.connectors.kafka import (
    KafkaRecord,
    KafkaSink,
    KafkaSource,
    json_deserializer,
    json_serializer,
    string_deserializer,
)
from streamrt.connectors.kafka._aiokafka import default_partition
from streamrt.runtime.job import Job
from streamrt.testing import CollectSink
from tests.conftest import bounded, cancel_and_expect_cancelled, wait_until
from tests.integration.conftest import Kafka

pytestmark = pytest.mark.kafka

BASE_TS = 1_700_000_000_000


def source_metric(job: Job, name: str) -> list[float]:
    return [c.value for c in job.statistics().connectors if c.name == name]


async def test_round_trip_keeps_keys_headers_and_timestamps(kafka: Kafka) -> None:
    source_topic = await kafka.create_topic(4)
    target_topic = await kafka.create_topic(3)
    n = 300
    records = [(f"k{i % 17}".encode(), json.dumps({"i": i}).encode()) for i in range(n)]
    headers = [[("trace", f"t{i}".encode()), ("n", b"%d" % i)] for i in range(n)]
    await kafka.produce(
        source_topic, records, timestamps=[BASE_TS + i for i in range(n)], headers=headers
    )

    env = StreamExecutionEnvironment(parallelism=2)
    stream: DataStream[KafkaRecord[str, Any]] = env.from_source(
        KafkaSource(
            bootstrap_servers=kafka.bootstrap,
            topics=[source_topic],
            bounded=True,
            with_metadata=True,
            key_deserializer=string_deserializer,
            value_deserializer=json_deserializer,
        ),
        source_name="in",
    )
    stream.map(
        lambda r: KafkaRecord(
            r.key,
            {"i": r.value["i"], "double": 2 * r.value["i"]},
            r.topic,
            r.partition,
            r.offset,
            r.timestamp,
            r.headers,
        )
    ).sink_to(
        KafkaSink(
            bootstrap_servers=kafka.bootstrap,
            topic=target_topic,
            key_selector=lambda r: r.key,
            key_serializer=str.encode,
            value_serializer=lambda r: json_serializer(r.value),
            headers=lambda r: r.headers,
        )
    )
    result = await bounded(env.execute_async("round trip"))

    out = await kafka.consume(target_topic, n)
    assert len(out) == n
    expected = {
        (f"k{i % 17}", i, BASE_TS + i, (("trace", f"t{i}".encode()), ("n", b"%d" % i)))
        for i in range(n)
    }
    got = {(m.key.decode(), json.loads(m.value)["i"], m.timestamp, tuple(m.headers)) for m in out}
    assert got == expected
    assert all(json.loads(m.value)["double"] == 2 * json.loads(m.value)["i"] for m in out)
    # keyed records land where Kafka's Java client would put them (murmur2)
    assert all(m.partition == default_partition(m.key, [0, 1, 2]) for m in out)
    sent = sum(
        c.value for c in result.statistics.connectors if c.name == "kafka_sink_records_sent_total"
    )
    assert sent == n


async def test_bounded_mode_stops_at_the_end_offsets_seen_at_start(kafka: Kafka) -> None:
    topic = await kafka.create_topic(2)
    await kafka.produce(topic, [(None, b"%d" % i) for i in range(100)])
    late_records = asyncio.Event()

    class ProduceMoreOnFirstRecord(CollectSink[bytes]):
        def __init__(self) -> None:
            super().__init__()
            self.task: asyncio.Task[None] | None = None

        def create_writer(self, context: Any) -> Any:
            writer = super().create_writer(context)
            write = writer.write
            owner = self

            def first_triggers(value: bytes, timestamp: int | None) -> None:
                if owner.task is None:

                    async def more() -> None:
                        await kafka.produce(topic, [(None, b"late")] * 50)
                        late_records.set()

                    owner.task = asyncio.get_running_loop().create_task(more())
                write(value, timestamp)

            writer.write = first_triggers  # type: ignore[method-assign]
            original_flush = writer.flush

            async def flush(end_of_input: bool) -> None:
                if end_of_input and owner.task is not None:
                    await owner.task  # the late records exist before the job can finish
                await original_flush(end_of_input)

            writer.flush = flush  # type: ignore[method-assign]
            return writer

    env = StreamExecutionEnvironment()
    sink = ProduceMoreOnFirstRecord()
    env.from_source(
        KafkaSource(bootstrap_servers=kafka.bootstrap, topics=[topic], bounded=True)
    ).sink_to(sink)
    await bounded(env.execute_async("bounded"))
    assert late_records.is_set()
    assert sorted(int(v) for v in sink.values) == list(range(100))
    assert sum((await kafka.end_offsets(topic)).values()) == 150


async def test_group_mode_splits_partitions_and_reads_everything_once(kafka: Kafka) -> None:
    topic = await kafka.create_topic(4)
    group = f"group-{topic}"
    sinks: list[CollectSink[int]] = []
    jobs: list[Job] = []
    for _ in range(2):
        env = StreamExecutionEnvironment()
        sink: CollectSink[int] = CollectSink()
        env.from_source(
            KafkaSource(
                bootstrap_servers=kafka.bootstrap,
                topics=[topic],
                group_id=group,
                value_deserializer=lambda b: int(b),
            ),
            source_name="members",
        ).sink_to(sink)
        sinks.append(sink)
        jobs.append(env.create_job("member"))
    running = [asyncio.create_task(job.run()) for job in jobs]
    try:
        # produce only once the group has settled on a split, so no partition moves mid-read
        await wait_until(
            lambda: all(source_metric(j, "kafka_source_assigned_partitions") == [2] for j in jobs),
            timeout=30,
            what="both members to own two partitions each",
        )
        await kafka.produce(topic, [(b"k%d" % i, b"%d" % i) for i in range(2_000)])
        await wait_until(
            lambda: sum(len(s.values) for s in sinks) >= 2_000, timeout=30, what="all records"
        )
    finally:
        # scale down one worker at a time, as an operator would: the other keeps polling through
        # the rebalance, takes over all partitions, and only then stops (a commit during a
        # rebalance is refused until the member rejoins; noida may not let it rejoin at all)
        jobs[0].stop()
        await bounded(running[0])
        await wait_until(
            lambda: source_metric(jobs[1], "kafka_source_assigned_partitions") == [4],
            timeout=30,
            what="the remaining member to take over every partition",
        )
        jobs[1].stop()
        await bounded(running[1])
    values = [v for s in sinks for v in s.values]
    assert sorted(values) == list(range(2_000))  # every record, exactly once
    # which partitions each member owned is the group coordinator's choice, and the member
    # left running reads what the other left behind: only "both got some" is knowable
    assert all(len(s.values) > 0 for s in sinks)
    committed = await kafka.committed(topic, group)
    assert sum(o or 0 for o in committed.values()) == 2_000  # committed on the clean stop


async def test_starting_offsets(kafka: Kafka) -> None:
    topic = await kafka.create_topic(1)
    await kafka.produce(
        topic,
        [(None, b"%d" % i) for i in range(10)],
        timestamps=[BASE_TS + 1000 * i for i in range(10)],
    )

    async def read(**options: Any) -> list[int]:
        env = StreamExecutionEnvironment()
        sink: CollectSink[bytes] = CollectSink()
        env.from_source(
            KafkaSource(bootstrap_servers=kafka.bootstrap, topics=[topic], bounded=True, **options)
        ).sink_to(sink)
        await bounded(env.execute_async("offsets"))
        return [int(v) for v in sink.values]

    assert await read(starting_offsets="earliest") == list(range(10))
    assert await read(starting_offsets=BASE_TS + 4_500) == [5, 6, 7, 8, 9]
    assert await read(starting_offsets=BASE_TS + 99_000) == []
    assert await read(starting_offsets="latest") == []
    group = f"g-{topic}"
    fresh = f"fresh-{topic}"  # a group that never committed, told to start at the end
    assert await read(group_id=fresh, starting_offsets="committed", offset_reset="latest") == []
    assert await read(group_id=group, starting_offsets="committed") == list(
        range(10)
    )  # none committed: offset_reset's default, earliest
    assert (await kafka.committed(topic, group)) == {0: 10}  # committed on the clean finish
    await kafka.produce(topic, [(None, b"10"), (None, b"11")])
    assert await read(group_id=group) == [10, 11]  # resumes where the group left


async def test_latest_reads_only_what_is_written_after_start(kafka: Kafka) -> None:
    topic = await kafka.create_topic(2)
    await kafka.produce(topic, [(None, b"old")] * 20)
    env = StreamExecutionEnvironment()
    sink: CollectSink[bytes] = CollectSink()
    env.from_source(
        KafkaSource(bootstrap_servers=kafka.bootstrap, topics=[topic], starting_offsets="latest")
    ).sink_to(sink)
    job = env.create_job("latest")
    running = asyncio.create_task(job.run())
    try:
        # ready = the reader has started, which fixes "latest" to the end offsets as of then
        await wait_until(lambda: job.readiness()[0], what="the source to start")
        assert source_metric(job, "kafka_source_assigned_partitions") == [2]
        await kafka.produce(topic, [(None, b"new")] * 5)
        await sink.wait_for(5)
    finally:
        job.stop()
        await bounded(running)
    assert sink.values == [b"new"] * 5


def test_contradictory_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="exactly one of topics=, topic_pattern= or partitions="):
        KafkaSource(bootstrap_servers="x:1")
    with pytest.raises(ConfigError, match="mode='group' needs a group_id"):
        KafkaSource(bootstrap_servers="x:1", topics=["t"], mode="group")
    with pytest.raises(ConfigError, match="bounded=True needs mode='assigned'"):
        KafkaSource(bootstrap_servers="x:1", topics=["t"], group_id="g", mode="group", bounded=True)
    with pytest.raises(ConfigError, match="on_error='dead_letter' needs dead_letter_topic="):
        KafkaSource(bootstrap_servers="x:1", topics=["t"], on_error="dead_letter")
    with pytest.raises(ConfigError, match="starting_offsets must be"):
        KafkaSource(bootstrap_servers="x:1", topics=["t"], starting_offsets="beginning")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="delivery='exactly-once'"):
        KafkaSink(bootstrap_servers="x:1", topic="t", delivery="exactly-once")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_batch_records must be >= 1; got 0"):
        KafkaSource(bootstrap_servers="x:1", topics=["t"], max_batch_records=0)
    with pytest.raises(ConfigError, match="fetch_timeout_ms must be >= 0; got -1"):
        KafkaSource(bootstrap_servers="x:1", topics=["t"], fetch_timeout_ms=-1)


async def test_an_unreachable_broker_fails_fast_with_a_clear_error() -> None:
    env = StreamExecutionEnvironment()
    env.from_source(
        KafkaSource(bootstrap_servers="127.0.0.1:1", topics=["t"], connect_attempts=2),
        source_name="orders",
    ).sink_to(CollectSink())
    with pytest.raises(OperatorError) as info:
        await bounded(env.execute_async("unreachable"), 30)
    message = str(info.value)
    assert (
        "operator 'Source: orders' (subtask 1/1) failed: ConnectorError while starting the source"
        in message
    )
    assert "cannot reach Kafka at '127.0.0.1:1' for a consumer after 2 attempts" in message


async def test_a_missing_topic_is_named(kafka: Kafka) -> None:
    env = StreamExecutionEnvironment()
    env.from_source(
        KafkaSource(bootstrap_servers=kafka.bootstrap, topics=["no-such-topic-x1"], bounded=True)
    ).sink_to(CollectSink())
    with pytest.raises(OperatorError, match="topic 'no-such-topic-x1' does not exist"):
        await bounded(env.execute_async("missing"))


async def test_dead_letters_get_the_raw_record_with_error_headers(kafka: Kafka) -> None:
    topic = await kafka.create_topic(1)
    dlq = await kafka.create_topic(1, prefix="dlq")
    lines = [b'{"ok": 1}', b"not json", b'{"ok": 2}', b"\xff\xfe", b'{"ok": 3}']
    await kafka.produce(topic, [(b"key%d" % i, v) for i, v in enumerate(lines)])
    env = StreamExecutionEnvironment()
    sink: CollectSink[dict[str, int]] = CollectSink()
    env.from_source(
        KafkaSource(
            bootstrap_servers=kafka.bootstrap,
            topics=[topic],
            bounded=True,
            value_deserializer=json_deserializer,
            dead_letter_topic=dlq,
        ),
        source_name="orders",
    ).sink_to(sink)
    result = await bounded(env.execute_async("dlq"))
    assert sink.values == [{"ok": 1}, {"ok": 2}, {"ok": 3}]
    letters = await kafka.consume(dlq, 2)
    assert [(m.key, m.value) for m in letters] == [(b"key1", b"not json"), (b"key3", b"\xff\xfe")]
    headers = dict(letters[0].headers)
    assert headers["streamrt.error.type"] == b"JSONDecodeError"
    assert headers["streamrt.source.topic"] == topic.encode()
    assert headers["streamrt.source.partition"] == b"0"
    assert headers["streamrt.source.offset"] == b"1"
    assert b"Expecting value" in headers["streamrt.error.message"]
    counted = [
        c.value
        for c in result.statistics.connectors
        if c.name == "kafka_source_dead_letter_records_total"
    ]
    assert counted == [2]


async def test_skip_policy_counts_and_fail_policy_names_the_record(kafka: Kafka) -> None:
    topic = await kafka.create_topic(1)
    await kafka.produce(topic, [(None, b"1"), (None, b"x"), (None, b"3")])

    env = StreamExecutionEnvironment()
    sink: CollectSink[int] = CollectSink()
    env.from_source(
        KafkaSource(
            bootstrap_servers=kafka.bootstrap,
            topics=[topic],
            bounded=True,
            value_deserializer=lambda b: int(b),
            on_error="skip",
        )
    ).sink_to(sink)
    result = await bounded(env.execute_async("skip"))
    assert sink.values == [1, 3]
    assert [
        c.value
        for c in result.statistics.connectors
        if c.name == "kafka_source_records_skipped_total"
    ] == [1]

    env = StreamExecutionEnvironment()
    env.from_source(
        KafkaSource(
            bootstrap_servers=kafka.bootstrap,
            topics=[topic],
            bounded=True,
            value_deserializer=lambda b: int(b),
        ),
        source_name="ints",
    ).sink_to(CollectSink())
    with pytest.raises(
        OperatorError,
        match=rf"cannot deserialize the record at topic '{topic}' partition 0 offset 1: ValueError",
    ):
        await bounded(env.execute_async("fail"))


async def test_kill_and_restart_loses_nothing(kafka: Kafka) -> None:
    source_topic = await kafka.create_topic(4)
    target_topic = await kafka.create_topic(4)
    n = 6_000
    await kafka.produce(source_topic, [(None, b"%d" % i) for i in range(n)])
    group = f"crash-{source_topic}"

    def slowly(value: bytes) -> bytes:
        # load shaping: keeps the job running across several checkpoints (about 4 s per
        # subtask: after a full suite a checkpoint here has taken up to 2 s), so the cancel
        # below reliably finds it running
        time.sleep(0.0013)
        return value

    def build(env: StreamExecutionEnvironment) -> None:
        env.enable_checkpointing(100)
        env.from_source(
            KafkaSource(
                bootstrap_servers=kafka.bootstrap,
                topics=[source_topic],
                group_id=group,
                bounded=True,
                max_batch_records=200,
            ),
            source_name="numbers",
        ).map(slowly).sink_to(
            KafkaSink(
                bootstrap_servers=kafka.bootstrap, topic=target_topic, max_buffered_records=500
            )
        )

    env = StreamExecutionEnvironment(parallelism=2)
    build(env)
    job = env.create_job("crashing")
    running = asyncio.create_task(job.run())
    await wait_until(
        lambda: (
            job.coordinator is not None
            and job.coordinator.statistics().completed >= 3
            and sum(source_metric(job, "kafka_source_committed_offset")) > 0
        ),
        timeout=30,
        what="a few completed checkpoints",
    )
    # no clean stop: nothing is committed beyond the last checkpoint
    await cancel_and_expect_cancelled((job, running))
    committed = sum(o or 0 for o in (await kafka.committed(source_topic, group)).values())
    written_before = sum((await kafka.end_offsets(target_topic)).values())
    # where the cancel caught the job is timing: some checkpoint committed, and the sink had
    # written at least what that checkpoint covers
    assert 0 < committed <= written_before

    env = StreamExecutionEnvironment(parallelism=2)
    build(env)
    await bounded(env.execute_async("restarted"))
    out = await kafka.consume(target_topic, n)
    counts = Tally(int(m.value) for m in out)
    assert set(counts) == set(range(n))  # nothing lost
    duplicates = sum(counts.values()) - n
    # replayed exactly what the crashed run had written past its last committed checkpoint
    assert duplicates == written_before - committed


async def test_a_send_error_fails_the_job_naming_topic_and_partition(kafka: Kafka) -> None:
    topic = await kafka.create_topic(1, configs={"max.message.bytes": "1000"})
    env = StreamExecutionEnvironment()
    env.from_collection([b"small", b"x" * 50_000]).sink_to(
        KafkaSink(bootstrap_servers=kafka.bootstrap, topic=topic)
    ).name("too big")
    with pytest.raises(OperatorError) as info:
        await bounded(env.execute_async("send error"))
    message = str(info.value)
    assert "operator 'too big' (subtask 1/1) failed: ConnectorError" in message
    expected = f"records to topic '{topic}' partition 0 failed: [Error 10] MessageSizeTooLargeError"
    assert expected in message


async def test_topic_pattern_and_a_topic_chosen_per_record(kafka: Kafka) -> None:
    stem = (await kafka.create_topic(1, prefix="pat")).rsplit("-", 1)[1]
    first = await kafka.create_topic(2, prefix=f"pat{stem}a")
    second = await kafka.create_topic(1, prefix=f"pat{stem}b")
    evens = await kafka.create_topic(1, prefix="evens")
    odds = await kafka.create_topic(1, prefix="odds")
    await kafka.produce(first, [(None, b"%d" % i) for i in range(20)])
    await kafka.produce(second, [(None, b"%d" % i) for i in range(20, 30)])
    env = StreamExecutionEnvironment()
    env.from_source(
        KafkaSource(
            bootstrap_servers=kafka.bootstrap,
            topic_pattern=f"pat{stem}[ab]-.*",
            bounded=True,
            value_deserializer=lambda b: int(b),
        )
    ).sink_to(
        KafkaSink(
            bootstrap_servers=kafka.bootstrap,
            topic=lambda v: evens if v % 2 == 0 else odds,
            value_serializer=lambda v: b"%d" % v,
            delivery="none",
        )
    )
    await bounded(env.execute_async("pattern"))
    assert sorted(int(m.value) for m in await kafka.consume(evens, 15)) == list(range(0, 30, 2))
    assert sorted(int(m.value) for m in await kafka.consume(odds, 15)) == list(range(1, 30, 2))


async def test_a_quiet_partition_holds_event_time_back_until_idle(kafka: Kafka) -> None:
    topic = await kafka.create_topic(2)
    now = int(time.time() * 1000)
    jobs = []
    for idleness in (None, 300):
        strategy = WatermarkStrategy.for_monotonous_timestamps()
        if idleness is not None:
            strategy = strategy.with_idleness(idleness)
        env = StreamExecutionEnvironment(auto_watermark_interval_ms=50)
        env.from_source(
            KafkaSource(
                bootstrap_servers=kafka.bootstrap, topics=[topic], starting_offsets="earliest"
            ),
            strategy,
            "events",
        ).map(lambda v: v).name("pass").sink_to(CollectSink())
        jobs.append(env.create_job(f"idleness {idleness}"))
    running = [asyncio.create_task(job.run()) for job in jobs]
    try:
        # only partition 0 ever gets data
        await kafka.produce(
            topic, [(None, b"x")] * 5, partition=0, timestamps=[now + i for i in range(5)]
        )
        await wait_until(
            lambda: jobs[1].statistics().operator("pass").current_output_watermark == now + 3,
            what="the watermark of the job whose quiet partition goes idle",
        )
        stuck = jobs[0].statistics().operator("pass")
        assert stuck.records_in == 5
        assert stuck.current_output_watermark == -(2**63)  # held back by quiet partition 1
    finally:
        await cancel_and_expect_cancelled(*zip(jobs, running, strict=True))


@pytest.mark.parametrize("keyed", [False, True])
async def test_full_producer_batches_roll_over_without_losing_records(
    kafka: Kafka, keyed: bool
) -> None:
    topic = await kafka.create_topic(3)
    values = [b"%05d-" % i + b"x" * 40 for i in range(600)]
    env = StreamExecutionEnvironment()
    env.from_collection(values).sink_to(
        KafkaSink(
            bootstrap_servers=kafka.bootstrap,
            topic=topic,
            key_selector=(lambda v: v[:2]) if keyed else None,
            producer_settings={"max_batch_size": 1024},  # ~20 records a batch: many roll-overs
        )
    )
    result = await bounded(env.execute_async("roll over"))
    out = await kafka.consume(topic, len(values))
    assert sorted(m.value for m in out) == values
    by_partition: dict[int, list[bytes]] = {}
    for m in sorted(out, key=lambda m: (m.partition, m.offset)):
        by_partition.setdefault(m.partition, []).append(m.value)
    assert all(chunk == sorted(chunk) for chunk in by_partition.values())  # order kept
    sent = [
        c.value for c in result.statistics.connectors if c.name == "kafka_sink_records_sent_total"
    ]
    assert sent == [600]


async def test_the_sink_stamps_event_or_processing_time(kafka: Kafka) -> None:
    topic = await kafka.create_topic(1)
    env = StreamExecutionEnvironment()
    stamped = env.from_collection([1, 2]).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
            lambda v, _: BASE_TS + v
        )
    )
    stamped.map(lambda v: b"event").sink_to(
        KafkaSink(bootstrap_servers=kafka.bootstrap, topic=topic)
    )
    stamped.map(lambda v: b"processing").sink_to(
        KafkaSink(bootstrap_servers=kafka.bootstrap, topic=topic, timestamp="processing")
    )
    before = int(time.time() * 1000)
    await bounded(env.execute_async("stamps"))
    after = int(time.time() * 1000)
    got = await kafka.consume(topic, 4)
    assert sorted(m.timestamp for m in got if m.value == b"event") == [BASE_TS + 1, BASE_TS + 2]
    processing = [m.timestamp for m in got if m.value == b"processing"]
    assert len(processing) == 2
    assert all(before <= ts <= after for ts in processing)
    with pytest.raises(ConfigError, match="timestamp must be 'event' or 'processing'; got 'none'"):
        KafkaSink(bootstrap_servers="x:1", topic="t", timestamp="none")  # type: ignore[arg-type]
