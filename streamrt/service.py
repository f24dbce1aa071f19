"""A job run as a long-lived service: restore, endpoints, signals, a bounded graceful stop.

What ``streamrt run`` does around ``Job.run()``:

* **Checkpoint storage.** With checkpointing on, completed checkpoints go to a directory
  (``--checkpoint-dir``, default ``./checkpoints/<job name>``) unless the pipeline chose a
  storage itself.
* **Restore.** On start the job resumes from the latest complete checkpoint there (logged),
  from ``--from-savepoint PATH``, or from nothing with ``--fresh``. ``/readyz`` answers 503
  ("restoring ...") until the tasks run.
* **Endpoints.** ``/metrics``, ``/healthz``, ``/readyz``, ``/job`` and the control endpoints
  (``metrics.exporter``), served in the job's own event loop.
* **Signals from the start.** SIGTERM is handled from the first statement on (``streamrt run``
  also while it imports and builds the job): one that arrives before the job runs (while
  restoring a large checkpoint, say) ends the process with status 0 and starts nothing. The
  restore read itself is not interrupted; the job is not created after it.
* **Stall watchdog** (``streamrt.watchdog``): an event loop blocked, or no records read while the
  consumer lag grows, for longer than ``--stall-timeout`` (default 60 s; 0 turns it off) ends
  the process with status 70 so that its supervisor restarts it (``--on-stall exit``), or only
  turns ``/healthz`` 503 (``--on-stall report``, for a liveness probe to act on).
* **Graceful stop.** SIGTERM stops the job (``/readyz`` answers 503 "stopping" from then on):
  sources stop right after the barrier of a final checkpoint (with checkpointing on),
  everything in flight drains, sinks flush, offsets are committed, and the process exits 0
  within ``--shutdown-timeout``. Past it, the job is cancelled and the process exits 1 naming
  the tasks that had not finished; the last complete checkpoint stands either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from metrics.exporter import MetricsServer
from streamrt.environment import StreamExecutionEnvironment
from streamrt.errors import ConfigError, JobCancelledError, StreamrtError
from streamrt.runtime.checkpoint_storage import FileSystemCheckpointStorage
from streamrt.runtime.completed_checkpoint import CompletedCheckpoint
from streamrt.runtime.job import Job, JobExecutionResult
from streamrt.runtime.restart_strategy import parse_restart_strategy
from streamrt.watchdog import DEFAULT_STALL_TIMEOUT_S, StallWatchdog, exit_on_stall

__all__ = ["ServiceOptions", "SigtermBeforeStart", "run_service"]

logger = logging.getLogger("streamrt")


class SigtermBeforeStart(BaseException):
    """SIGTERM arrived before the job ran: nothing was started; ``streamrt run`` exits 0.

    A ``BaseException``, like ``KeyboardInterrupt``, so that a builder's ``except Exception``
    does not swallow it.
    """


@dataclass(frozen=True)
class ServiceOptions:
    """How ``streamrt run`` serves a job (its command-line options)."""

    segment: int | None = None
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = 9249  # None: no endpoints
    on_sigterm: str = "stop"
    checkpoint_dir: str | None = None
    checkpoint_interval_ms: int | None = None
    from_savepoint: str | None = None
    fresh: bool = False
    allow_non_restored_state: bool = False
    restart_strategy: str | None = None
    shutdown_timeout_s: float = 10.0
    control_token: str | None = None
    savepoint_dir: str | None = None
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S  # 0: no watchdog
    on_stall: str = "exit"  # or "report": only /healthz 503

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ServiceOptions:
        """The options of ``streamrt run``'s parsed arguments."""
        return cls(
            segment=args.segment,
            metrics_host=args.metrics_host,
            metrics_port=None if args.no_metrics else args.metrics_port,
            on_sigterm=args.on_sigterm,
            checkpoint_dir=args.checkpoint_dir,
            checkpoint_interval_ms=args.checkpoint_interval,
            from_savepoint=args.from_savepoint,
            fresh=args.fresh,
            allow_non_restored_state=args.allow_non_restored_state,
            restart_strategy=args.restart_strategy,
            shutdown_timeout_s=args.shutdown_timeout,
            control_token=args.control_token,
            savepoint_dir=args.savepoint_dir,
            stall_timeout_s=args.stall_timeout,
            on_stall=args.on_stall,
        )


def _slug(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "-", name).strip("-") or "job"


def _configure(env: StreamExecutionEnvironment, name: str, options: ServiceOptions) -> None:
    """Checkpoint storage and restart strategy as the options say."""
    if options.checkpoint_interval_ms is not None:
        env.enable_checkpointing(
            options.checkpoint_interval_ms, storage=env.config.checkpoint_storage
        )
    if env.config.checkpoint_interval_ms is not None and (
        options.checkpoint_dir is not None or env.config.checkpoint_storage is None
    ):
        directory = options.checkpoint_dir or str(Path("checkpoints") / _slug(name))
        env.config = replace(env.config, checkpoint_storage=FileSystemCheckpointStorage(directory))
    if options.restart_strategy is not None:
        env.set_restart_strategy(parse_restart_strategy(options.restart_strategy))


async def _restore_point(
    env: StreamExecutionEnvironment, options: ServiceOptions
) -> CompletedCheckpoint | None:
    """What the job starts from: a savepoint, the latest checkpoint, or nothing."""
    if options.from_savepoint is not None:
        restored = await asyncio.to_thread(CompletedCheckpoint.load, options.from_savepoint)
        logger.info("restoring from savepoint %s", restored.location)
        return restored
    storage = env.config.checkpoint_storage
    if storage is None:
        return None
    location = await asyncio.to_thread(storage.latest)
    if location is None:
        logger.info("no checkpoint in %r: starting without state", storage)
        return None
    if options.fresh:
        logger.info("--fresh: ignoring the checkpoints in %r", storage)
        return None
    stored = await asyncio.to_thread(storage.read, location)
    restored = CompletedCheckpoint.from_stored(stored)
    logger.info("restoring from checkpoint %d at %s", restored.checkpoint_id, location)
    return restored


async def run_service(
    env: StreamExecutionEnvironment, name: str, options: ServiceOptions
) -> JobExecutionResult:
    """Run the environment's pipeline as job ``name`` until it finishes or is stopped.

    Raises:
        SigtermBeforeStart: SIGTERM arrived before the job ran (nothing was started).
        ConfigError: the metrics port cannot be bound, or an option is invalid.
        CheckpointError: the checkpoint or savepoint to restore is unreadable or does not fit.
        StreamrtError: the job failed (after its restarts), or did not stop in time.
    """
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.TimerHandle] = []
    sigterm: list[bool] = []  # SIGTERM arrived (before or after the job was created)
    job: Job | None = None

    def on_sigterm() -> None:
        if sigterm:
            return
        sigterm.append(True)
        if job is None:
            logger.info("SIGTERM before job %r started: it will not start", name)
            return
        logger.info("SIGTERM: stopping job %r (at most %.0f s)", name, options.shutdown_timeout_s)
        job.stop(drain=options.on_sigterm == "drain")
        stopping.append(loop.call_later(options.shutdown_timeout_s, job.cancel))

    # first, so that no SIGTERM is lost while the server starts or a checkpoint is restored
    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    server: MetricsServer | None = None
    try:
        _configure(env, name, options)
        server = await _start_server(options, name)
        async with _watchdog(name, options, server, lambda: job):
            restored = await _restore_point(env, options)
            if sigterm:
                msg = f"SIGTERM before job {name!r} started"
                raise SigtermBeforeStart(msg)
            job = env.create_job(
                name,
                restore_from=restored,
                segment=options.segment,
                allow_non_restored_state=options.allow_non_restored_state,
            )
            if server is not None:
                server.job = job
            return await _run(job, name, options, stopping)
    finally:
        for handle in stopping:
            handle.cancel()
        loop.remove_signal_handler(signal.SIGTERM)
        if server is not None:
            await server.stop()


async def _run(
    job: Job, name: str, options: ServiceOptions, stopping: list[asyncio.TimerHandle]
) -> JobExecutionResult:
    """``job.run()``, naming what had not finished when a SIGTERM's stop timed out."""
    try:
        return await job.run()
    except JobCancelledError:
        if not stopping:
            raise
        unfinished = [repr(t) for t in job.tasks if not t.status.ended]
        latest = job.coordinator.latest if job.coordinator else None
        msg = (
            f"job {name!r} did not stop within --shutdown-timeout "
            f"{options.shutdown_timeout_s:g} s; cancelled with {unfinished or 'no task'} "
            "still running; "
            + (
                f"the last complete checkpoint is {latest.checkpoint_id}"
                if latest
                else "no checkpoint completed"
            )
        )
        raise StreamrtError(msg) from None


@contextlib.asynccontextmanager
async def _watchdog(
    name: str, options: ServiceOptions, server: MetricsServer | None, job: Callable[[], Job | None]
) -> AsyncIterator[None]:
    """The stall watchdog around the job (none with ``--stall-timeout 0``)."""
    if options.stall_timeout_s <= 0:
        yield
        return
    if options.on_stall == "exit":
        on_stall: Callable[[str], None] = exit_on_stall
    else:  # "report": /healthz says it; a liveness probe acts

        def on_stall(reason: str) -> None:
            logger.critical("--on-stall report: /healthz answers 503 from now on")

    watchdog = StallWatchdog(name, options.stall_timeout_s, on_stall=on_stall)
    if server is not None:
        server.stall_reason = lambda: watchdog.stalled
    async with watchdog.watching(job):
        yield


async def _start_server(options: ServiceOptions, name: str) -> MetricsServer | None:
    if options.metrics_port is None:
        return None
    server = MetricsServer(
        host=options.metrics_host,
        port=options.metrics_port,
        control_token=options.control_token,
        savepoint_dir=options.savepoint_dir or str(Path("savepoints") / _slug(name)),
    )
    try:
        await server.start()
    except OSError as exc:
        msg = (
            f"cannot serve metrics on {options.metrics_host}:{options.metrics_port}: "
            f"{exc.strerror or exc}; choose another --metrics-port (0 picks a free one) or "
            "pass --no-metrics"
        )
        raise ConfigError(msg) from exc
    print(f"streamrt: metrics at {server.url}/metrics", file=sys.stderr, flush=True)
    return server
