"""A task whose chain starts with a source.

Port of Flink's ``SourceStreamTask``/``SourceOperator`` for FLIP-27 sources. A *fetcher*
coroutine awaits the ``SourceReader`` and parks batches in a small queue (Flink's split fetcher
and element queue); the task loop takes them from there between mails, so timers, periodic
watermarks and checkpoint triggers run even while the reader waits on the network.

Per batch the task assigns timestamps, feeds the split's watermark generator (one call per
batch), pushes every record into the head output, and then records the split's position, so a
checkpoint (a mail, between batches) snapshots exactly what was emitted.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

from streamrt.runtime.copying import ATOMS
from streamrt.runtime.elements import (
    MAX_WATERMARK,
    CheckpointBarrier,
    LatencyMarker,
    StreamRecord,
    Watermark,
    WatermarkStatus,
)
from streamrt.runtime.operator import operator_failure, raise_operator_failure
from streamrt.runtime.source_reader import SourceBatch, SourceReader, SourceReaderContext
from streamrt.runtime.status import ExecutionStatus
from streamrt.runtime.task import StreamTask, TaskDeployment
from streamrt.runtime.watermark_strategy import WatermarkStrategy
from streamrt.runtime.watermarks import NoWatermarksGenerator, WatermarkOutputMultiplexer

__all__ = ["SourceTask"]

_END: Any = object()
#: Fetched results parked ahead of the task loop: enough to overlap I/O with processing.
_FETCH_AHEAD = 2


class _FetchFailed:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class SourceTask(StreamTask):
    """Runs a chain headed by a source node."""

    checkpoint_entry = True

    def __init__(self, deployment: TaskDeployment) -> None:
        super().__init__(deployment)
        vertex, restored = deployment.vertex, deployment.restored
        node = vertex.head
        strategy: WatermarkStrategy = node.watermark_strategy or WatermarkStrategy.no_watermarks()
        self._assigner = strategy.timestamp_assigner
        self._watermarking = strategy.generator_factory is not NoWatermarksGenerator
        self.watermarks = WatermarkOutputMultiplexer(strategy.create_generator)
        #: position of every split this subtask reads: what its checkpoints record
        self.positions: dict[Any, Any] = dict((restored or {}).get("positions", {}))
        # restored at another parallelism: every split's position is offered to the reader;
        # a split's becomes this subtask's only once the reader announces it owns the split,
        # so a checkpoint never records (stale) positions of splits another subtask reads
        self._offered: dict[Any, Any] = dict((restored or {}).get("offered_positions", {}))
        context = self.chain.head_context
        self.reader: SourceReader[Any] = node.source.create_reader(
            SourceReaderContext(
                self.subtask_index,
                vertex.parallelism,
                self.job_name,
                context.name,
                {**self._offered, **self.positions},
                context.metrics.connector,
            )
        )
        self._reader_open = True
        self.reader_started = False  # set once the reader has connected (readiness)
        self._fetched: deque[Any] = deque()
        self._fetch_space: asyncio.Future[None] | None = None
        self._stop: bool | None = None  # None: run on; else stop, draining if True
        self._idle_announced = False
        self._reuse: StreamRecord[Any] = StreamRecord(None)
        self._records_read = context.metrics.records_in

    @property
    def ready(self) -> bool:
        """Whether the reader has connected (or the task is already done)."""
        return self.reader_started or self.status is ExecutionStatus.FINISHED

    def request_stop(self, *, drain: bool) -> None:
        """Stop reading (graceful stop); with ``drain`` the final MAX watermark is sent."""

        def stop() -> None:
            if self._stop is None:
                self._stop = drain

        self.mailbox.put(stop)

    def trigger_checkpoint(
        self, checkpoint_id: int, timestamp_ms: int, *, stop: bool | None = None
    ) -> None:
        """Queue checkpoint ``checkpoint_id``: the barrier enters the stream at the next mail.

        With ``stop`` the source reads nothing after the barrier (stop-with-savepoint).
        """
        barrier = CheckpointBarrier(checkpoint_id, timestamp_ms)

        async def checkpoint() -> None:
            if stop is not None and self._stop is None:
                self._stop = stop  # before the snapshot: no record follows the barrier
            await self.perform_checkpoint(barrier)

        self.mailbox.put(checkpoint)

    def snapshot_task_state(self, barrier: CheckpointBarrier) -> dict[str, Any]:
        """Split positions (next record to read per split) and the reader's own state."""
        positions = dict(self.positions)
        return {
            "positions": positions,
            "reader": self.reader.snapshot_state(barrier.checkpoint_id, positions),
        }

    async def on_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Let the reader commit what checkpoint ``checkpoint_id`` covered."""
        await self.reader.notify_checkpoint_complete(checkpoint_id)

    # -- the fetcher ---------------------------------------------------------------------------
    async def _fetch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                while len(self._fetched) >= _FETCH_AHEAD:
                    self._fetch_space = loop.create_future()
                    await self._fetch_space
                batches = await self.reader.fetch()
                if batches is None:
                    self._fetched.append(_END)
                    self.wake()
                    return
                if batches:  # a poll that timed out with nothing is not worth a wake-up
                    self._fetched.append(batches)
                    self.wake()
        except Exception as exc:  # reported by the task loop, which names the source
            self._fetched.append(_FetchFailed(exc))
            self.wake()

    def _take_fetched(self) -> Any:
        item = self._fetched.popleft()
        space = self._fetch_space
        if space is not None and not space.done():
            space.set_result(None)
        return item

    # -- the task loop -------------------------------------------------------------------------
    async def invoke(self) -> None:
        """Emit fetched batches until the input ends or a stop is requested; then finish."""
        context = self.chain.head_context
        try:
            await self.reader.start()
        except Exception as exc:
            raise operator_failure(context, exc, " while starting the source") from exc
        self.reader_started = True
        self._schedule_periodic_watermark()
        self._schedule_latency_marker()
        async with asyncio.TaskGroup() as group:
            fetcher = group.create_task(self._fetch_loop())
            try:
                ended = await self._loop()
            finally:
                fetcher.cancel()
        if ended or self._stop:
            self._emit_final_watermark()
        await self.end_of_input()

    async def _loop(self) -> bool:
        mailbox = self.mailbox
        providers = self.chain.availability_providers
        fetched = self._fetched
        context = self.chain.head_context
        timed_flush = self._buffer_timeout_ns > 0
        while True:
            if len(mailbox):
                await mailbox.run_pending()
            if self._stop is not None:
                return False
            for provider in providers:
                if not provider.available:
                    await self.wait_for_output(provider)
            if not fetched:
                await self.wait_for_work()
                continue
            item = self._take_fetched()
            if item is _END:
                return True
            if type(item) is _FetchFailed:
                raise operator_failure(context, item.error, " while reading") from item.error
            try:
                for batch in item:
                    self._emit_batch(batch)
            except Exception as exc:
                raise_operator_failure(context, exc)
            if timed_flush:
                self.maybe_flush()

    def _emit_batch(self, batch: SourceBatch[Any]) -> None:
        if batch.release is not None:
            self._release_split(batch)
            if not batch.values:
                return
        if not batch.values and batch.split is not None and batch.position is None:
            # a split announced on assignment, before any data
            if batch.split in self._offered:
                self.positions.setdefault(batch.split, self._offered[batch.split])
            if self._watermarking:
                self.watermarks.split(batch.split)
            return
        values = batch.values
        timestamps: Sequence[int | None] | None = batch.timestamps
        assigner = self._assigner
        if assigner is not None:
            if timestamps is None:
                timestamps = [assigner(v, None) for v in values]
            else:
                timestamps = [assigner(v, t) for v, t in zip(values, timestamps, strict=True)]
        punctuated = False
        if self._watermarking and (timestamps is not None or batch.split is not None):
            # a split holds event time back from its first batch on, even an empty one (a
            # partition assigned but quiet), until it has data or goes idle (Flink's per-split
            # outputs are created on assignment, too)
            generator, split_output = self.watermarks.split(batch.split)
            if timestamps is not None:
                generator.on_batch(values, timestamps, split_output)  # type: ignore[arg-type]
                punctuated = split_output.advanced
        collect = self.chain.head_output.collect
        reuse = self._reuse
        count = len(values)
        if batch.handed_over and count and type(values[0]) not in ATOMS:
            # the list lets go of each value as it is emitted (popped from the reversed list),
            # so a deserialized dict nobody else holds passes the first hop uncopied
            handed = cast("list[Any]", values)
            handed.reverse()
            pop = handed.pop
            for reuse.timestamp in timestamps or [None] * count:
                reuse.value = pop()
                collect(reuse)
        # values go straight into the record (a chained operator may rewrite its timestamp)
        elif timestamps is None:
            for reuse.value in values:
                reuse.timestamp = None
                collect(reuse)
        else:
            for reuse.value, reuse.timestamp in zip(values, timestamps, strict=True):
                collect(reuse)
        self._records_read.count += count  # FLIP-33: a source's records-in = records read
        if batch.position is not None:
            self.positions[batch.split] = batch.position
        if punctuated:  # a generator emitted from on_event: forward it now, after the batch
            self._forward_watermark(*self.watermarks.combine())

    def _release_split(self, batch: SourceBatch[Any]) -> None:
        self.watermarks.release(batch.split)
        if batch.release == "revoked":  # another reader owns it now: never checkpoint it here
            self.positions.pop(batch.split, None)

    # -- periodic work (mails) -------------------------------------------------------------------
    def _schedule_periodic_watermark(self) -> None:
        interval = self.config.auto_watermark_interval_ms
        if self._watermarking and interval > 0:
            pts = self.processing_time
            pts.register_timer(pts.current_processing_time() + interval, self._periodic_watermark)

    def _periodic_watermark(self, _: int) -> None:
        try:
            watermark, idle = self.watermarks.on_periodic_emit()
        except Exception as exc:  # a user-written generator failed, in a mail
            raise operator_failure(
                self.chain.head_context, exc, " in the watermark generator"
            ) from exc
        if self.reader.split_count() == 0:  # a reader without splits must not stall event time
            idle = True
        self._forward_watermark(watermark, idle)
        self._schedule_periodic_watermark()

    def _forward_watermark(self, watermark: Watermark | None, idle: bool) -> None:
        output = self.chain.head_output
        if watermark is not None:
            if self._idle_announced:
                self._idle_announced = False
                output.emit_watermark_status(WatermarkStatus.ACTIVE)
            output.emit_watermark(watermark)
        if idle and not self._idle_announced:
            self._idle_announced = True
            output.emit_watermark_status(WatermarkStatus.IDLE)
        elif not idle and self._idle_announced:
            self._idle_announced = False
            output.emit_watermark_status(WatermarkStatus.ACTIVE)

    def _schedule_latency_marker(self) -> None:
        interval = self.config.latency_tracking_interval_ms
        if interval > 0:
            pts = self.processing_time
            pts.register_timer(pts.current_processing_time() + interval, self._latency_marker)

    def _latency_marker(self, _: int) -> None:
        marker = LatencyMarker(time.time() * 1000, self.vertex.head.node_id, self.subtask_index)
        self.chain.head_output.emit_latency_marker(marker)
        self._schedule_latency_marker()

    def _emit_final_watermark(self) -> None:
        """End of a bounded input: event time is over (Flink's MAX_WATERMARK)."""
        if self._watermarking:
            self._periodic_watermark_once()
        output = self.chain.head_output
        if self._idle_announced:  # outputs drop watermarks while idle
            self._idle_announced = False
            output.emit_watermark_status(WatermarkStatus.ACTIVE)
        output.emit_watermark(Watermark(MAX_WATERMARK))

    def _periodic_watermark_once(self) -> None:
        watermark, _ = self.watermarks.on_periodic_emit()
        if watermark is not None and not self._idle_announced:
            self.chain.head_output.emit_watermark(watermark)

    async def release(self) -> None:
        """Close the reader, unless the task finished: then the job closes it when it ends."""
        if self.status is not ExecutionStatus.FINISHED:
            await self.close_reader()

    async def commit_final_positions(self) -> None:
        """The job finished cleanly: the reader commits what this task emitted."""
        if self._reader_open:
            await self.reader.notify_job_finished(dict(self.positions))

    async def close_reader(self) -> None:
        """Close the reader (once; the job calls this when it ends)."""
        if self._reader_open:
            self._reader_open = False
            await self.reader.close()
