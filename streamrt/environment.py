"""The entry point of every job (PyFlink's ``StreamExecutionEnvironment``, the Python way).

Configure it with keyword arguments, build streams from it, then ``execute()``. Executing
turns the pipeline into a job graph and clears it (as Flink does), so one environment can run
several jobs one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, TypeVar

import operators as ops
from streamrt.connectors.collection import CollectionSource
from streamrt.datastream import DataStream, _Input
from streamrt.errors import GraphError
from streamrt.plan import render_plan
from streamrt.runtime.checkpoint_storage import CheckpointStorage, FileSystemCheckpointStorage
from streamrt.runtime.clock import Clock
from streamrt.runtime.completed_checkpoint import CompletedCheckpoint
from streamrt.runtime.config import JobConfig
from streamrt.runtime.job import Job, JobExecutionResult
from streamrt.runtime.job_graph import JobGraph, create_job_graph
from streamrt.runtime.operator import StreamOperator
from streamrt.runtime.restart_strategy import RestartStrategySpec, parse_restart_strategy
from streamrt.runtime.source_reader import Source
from streamrt.runtime.stream_graph import NodeKind, StreamGraph, StreamNode
from streamrt.runtime.watermark_strategy import WatermarkStrategy

__all__ = ["StreamExecutionEnvironment"]

T = TypeVar("T")
R = TypeVar("R")


_DEFAULTS = JobConfig()
_prepared: ContextVar[StreamExecutionEnvironment | None] = ContextVar(
    "streamrt_prepared_environment", default=None
)


class StreamExecutionEnvironment:
    """Builds and runs jobs.

    Every setting is a ``JobConfig`` attribute, documented and validated there (one place for
    defaults and checks); the environment keeps them in ``config``.

    Args:
        parallelism: default parallelism of every operator (``set_parallelism`` overrides).
        object_reuse: pass records between chained operators without copying values.
        buffer_timeout_ms: how long records may wait in a channel buffer (0: not at all).
        max_parallelism: number of key groups; default derived from parallelism (>= 128).
        auto_watermark_interval_ms: how often sources emit watermarks.
        chaining: whether operators may be chained.
        buffer_size: records per channel buffer.
        channel_capacity: buffers a channel holds before its producer waits.
        latency_tracking_interval_ms: sources emit latency markers this often (0 = off).

    Raises:
        ConfigError: a setting is out of range or of the wrong type.
    """

    def __init__(
        self,
        parallelism: int = _DEFAULTS.parallelism,
        *,
        object_reuse: bool = _DEFAULTS.object_reuse,
        buffer_timeout_ms: int = _DEFAULTS.buffer_timeout_ms,
        max_parallelism: int | None = _DEFAULTS.max_parallelism,
        auto_watermark_interval_ms: int = _DEFAULTS.auto_watermark_interval_ms,
        chaining: bool = _DEFAULTS.chaining,
        buffer_size: int = _DEFAULTS.buffer_size,
        channel_capacity: int = _DEFAULTS.channel_capacity,
        latency_tracking_interval_ms: int = _DEFAULTS.latency_tracking_interval_ms,
    ) -> None:
        self.config = JobConfig(
            parallelism=parallelism,
            max_parallelism=max_parallelism,
            chaining=chaining,
            object_reuse=object_reuse,
            buffer_timeout_ms=buffer_timeout_ms,
            buffer_size=buffer_size,
            channel_capacity=channel_capacity,
            auto_watermark_interval_ms=auto_watermark_interval_ms,
            latency_tracking_interval_ms=latency_tracking_interval_ms,
        )
        self.stream_graph = StreamGraph()
        self._next_id = 1
        self.last_job: Job | None = None
        #: how ``execute()`` runs a job; ``None``: in a new event loop, here. ``streamrt run``
        #: installs its own, so a builder's ``env.execute()`` runs the job as the service.
        self.executor: Callable[[StreamExecutionEnvironment, str], JobExecutionResult] | None = None

    @classmethod
    def get_execution_environment(cls) -> StreamExecutionEnvironment:
        """PyFlink's entry point: the environment ``streamrt run`` prepared, else a new one."""
        prepared = _prepared.get()
        return prepared if prepared is not None else cls()

    @staticmethod
    @contextlib.contextmanager
    def prepared(env: StreamExecutionEnvironment) -> Iterator[None]:
        """Make ``get_execution_environment()`` return ``env`` inside the block (the CLI's)."""
        token = _prepared.set(env)
        try:
            yield
        finally:
            _prepared.reset(token)

    # -- configuration ---------------------------------------------------------------------------
    @property
    def parallelism(self) -> int:
        """The default parallelism."""
        return self.config.parallelism

    def set_parallelism(self, parallelism: int) -> StreamExecutionEnvironment:
        """Set the default parallelism."""
        self.config = replace(self.config, parallelism=parallelism)
        return self

    def enable_checkpointing(
        self,
        interval_ms: int,
        *,
        timeout_ms: int = _DEFAULTS.checkpoint_timeout_ms,
        storage: CheckpointStorage | str | os.PathLike[str] | None = None,
        retained: int = 1,
    ) -> StreamExecutionEnvironment:
        """Take a checkpoint every ``interval_ms``.

        Barriers are aligned; a checkpoint completes when every task has its part in it and,
        with ``storage``, once it is durable there; only then do sources commit its offsets.

        Args:
            interval_ms: time between checkpoints (>= 10).
            timeout_ms: a checkpoint not complete by then fails.
            storage: where completed checkpoints are kept: a directory (``chk-<n>/`` in it, see
                docs/checkpoints.md) or a ``CheckpointStorage``; ``None``: in memory only.
            retained: how many completed checkpoints a directory keeps (Flink's
                ``state.checkpoints.num-retained``).
        """
        kept: CheckpointStorage | None = (
            FileSystemCheckpointStorage(os.fspath(storage), retained=retained)
            if isinstance(storage, (str, os.PathLike))
            else storage
        )
        self.config = replace(
            self.config,
            checkpoint_interval_ms=interval_ms,
            checkpoint_timeout_ms=timeout_ms,
            checkpoint_storage=kept,
        )
        return self

    def set_restart_strategy(
        self, strategy: RestartStrategySpec | str
    ) -> StreamExecutionEnvironment:
        """What a failed job does (Flink's restart strategies).

        ``fixed_delay(...)``, ``exponential_delay(...)``, ``failure_rate(...)``,
        ``no_restart()`` or their text (``"fixed-delay:attempts=3"``). Default (Flink's):
        exponential delay with checkpointing on, no restart without.
        """
        if isinstance(strategy, str):
            strategy = parse_restart_strategy(strategy)
        self.config = replace(self.config, restart_strategy=strategy)
        return self

    def disable_operator_chaining(self) -> StreamExecutionEnvironment:
        """Run every operator in a task of its own."""
        self.config = replace(self.config, chaining=False)
        return self

    # -- sources -----------------------------------------------------------------------------------
    def add_node(
        self,
        name: str,
        kind: NodeKind,
        factory: Callable[[], StreamOperator[Any]],
        *,
        key_selector: Callable[[Any], Any] | None = None,
        source: Any = None,
        watermark_strategy: WatermarkStrategy | None = None,
    ) -> StreamNode:
        """Add an operator node to the pipeline (used by ``DataStream``)."""
        node = StreamNode(
            self._next_id,
            name,
            kind,
            factory,
            key_selector=key_selector,
            source=source,
            watermark_strategy=watermark_strategy,
            applies_error_policy=kind is NodeKind.OPERATOR,
        )
        self._next_id += 1
        return self.stream_graph.add_node(node)

    def from_source(
        self,
        source: Source[T],
        watermark_strategy: WatermarkStrategy | None = None,
        source_name: str | None = None,
    ) -> DataStream[T]:
        """A stream read from ``source``, with timestamps and watermarks per split."""
        if not hasattr(source, "create_reader"):
            msg = f"from_source() needs a Source (an object with create_reader()); got {source!r}"
            raise GraphError(msg)
        if watermark_strategy is not None and not isinstance(watermark_strategy, WatermarkStrategy):
            msg = f"watermark_strategy must be a WatermarkStrategy; got {watermark_strategy!r}"
            raise GraphError(msg)
        name = source_name or type(source).__name__
        node = self.add_node(
            f"Source: {name}",
            NodeKind.SOURCE,
            ops.SourceOperator,
            source=source,
            watermark_strategy=watermark_strategy,
        )
        if not getattr(source, "parallel", True):
            node.parallelism = 1
        return DataStream(self, (_Input(node.node_id),), node)

    def from_collection(self, collection: Iterable[T], type_info: Any = None) -> DataStream[T]:
        """A bounded stream of the given values (read in parallel, round robin).

        ``type_info`` is PyFlink's, accepted and unused (``streamrt.typeinfo``).
        """
        values: Sequence[T] = list(collection)
        return self.from_source(CollectionSource(values), source_name="Collection Source")

    # -- running ----------------------------------------------------------------------------------
    def get_job_graph(self, job_name: str = "streamrt job") -> JobGraph:
        """The chained job graph of the pipeline built so far (the pipeline is kept).

        Raises:
            GraphError: the pipeline is invalid, or empty because it was executed already.
        """
        if not self.stream_graph.nodes and self.last_job is not None:
            msg = (
                f"this environment's pipeline was already executed (job "
                f"{self.last_job.name!r}); execute() runs the pipeline and clears it, as Flink "
                "does: build the pipeline again before executing again"
            )
            raise GraphError(msg)
        config = self.config
        return create_job_graph(
            self.stream_graph,
            job_name,
            default_parallelism=config.parallelism,
            default_max_parallelism=config.max_parallelism,
            chaining_enabled=config.chaining,
        )

    def create_job(
        self,
        job_name: str = "streamrt job",
        *,
        restore_from: CompletedCheckpoint | str | os.PathLike[str] | None = None,
        segment: int | None = None,
        allow_non_restored_state: bool = False,
        clock: Clock | None = None,
    ) -> Job:
        """Turn the pipeline into a runnable ``Job`` and clear it (run with ``await job.run()``).

        Args:
            job_name: the job's name.
            restore_from: a completed checkpoint, or the path of a savepoint or retained
                checkpoint, to resume from (also at another parallelism).
            segment: run only this segment of the job (the parts between its Kafka-topic
                edges, numbered from 0, see ``streamrt plan``); the other segments run in other
                processes, each started with the same pipeline and its own segment number.
            allow_non_restored_state: drop the state of operators the job no longer has
                instead of failing.
            clock: what the restart loop reads and sleeps on (tests).
        """
        graph = self.get_job_graph(job_name)
        restored = (
            CompletedCheckpoint.load(restore_from)
            if isinstance(restore_from, (str, os.PathLike))
            else restore_from
        )
        config = replace(self.config, allow_non_restored_state=allow_non_restored_state)
        self.stream_graph = StreamGraph()
        job = Job(graph, config, restored=restored, segment=segment, clock=clock)
        self.last_job = job
        return job

    async def execute_async(self, job_name: str = "streamrt job") -> JobExecutionResult:
        """Run the pipeline in the running event loop until it finishes.

        Raises:
            OperatorError: an operator failed; the message names it and its subtask, and
                ``__cause__`` is the original exception.
        """
        return await self.create_job(job_name).run()

    def execute(self, job_name: str = "streamrt job") -> JobExecutionResult:
        """Run the pipeline until it finishes, in a new event loop (uvloop when installed).

        Ctrl-C cancels every task, closes every operator, and raises ``KeyboardInterrupt``.
        Under ``streamrt run`` the job runs as that service (metrics endpoints, SIGTERM).
        """
        if self.executor is not None:
            return self.executor(self, job_name)
        return run_event_loop(lambda: self.execute_async(job_name))

    def get_execution_plan(self, job_name: str = "streamrt job", fmt: str = "text") -> str:
        """The chained job graph as text (``fmt="text"``) or a Mermaid flowchart."""
        return render_plan(self.get_job_graph(job_name), fmt)


def run_event_loop(main: Callable[[], Awaitable[R]]) -> R:
    """Run ``main()`` in a fresh event loop; uvloop's when it is installed."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:
        msg = "execute() cannot run inside an event loop; use 'await env.execute_async()'"
        raise RuntimeError(msg)
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop

    async def runner() -> R:
        return await main()

    with asyncio.Runner(loop_factory=loop_factory) as loop_runner:
        return loop_runner.run(runner())
