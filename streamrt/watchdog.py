"""Stall detection for ``streamrt run``: fail a job whose event loop is blocked or that is stuck.

A hung job is the failure a health check cannot heal: Docker does not restart an ``unhealthy``
container, and a job whose event loop is blocked cannot even answer ``/healthz``. The watchdog
finds the two kinds of stall in process and ends the process, so that whatever supervises it
(the container's restart policy, systemd, Kubernetes) starts it again from the latest complete
checkpoint:

* **The event loop is blocked** for longer than the timeout: a synchronous call in an operator
  (``time.sleep``, blocking I/O, a long computation) holds the one thread that runs every task.
  A blocked loop cannot run a coroutine, so a coroutine only *beats* (stores the time), and a
  daemon **thread** checks that the beat is recent.
* **No progress while the input grows**: the sources read no record for longer than the timeout
  while the Kafka consumer lag grew (a wedged consumer, a lost partition assignment). An idle
  job (no lag growth) is not stalled; neither is one restarting, stopping or not yet running.

On a stall the watchdog logs the reason (for a blocked loop: where the loop thread is), and by
default ends the process with ``os._exit(EXIT_STALLED)`` (70, ``EX_SOFTWARE``). Not a signal to
itself: SIGTERM's graceful stop runs *in the event loop*, which is exactly what is blocked, and
SIGKILL's status 137 is indistinguishable from the OOM killer's. ``os._exit`` runs no cleanup,
which is right for a process in an unknown state: the last complete checkpoint stands, and
offsets are only committed with checkpoints, so the restarted job re-reads what this one had not
checkpointed (at-least-once, as after any crash).

With ``on_stall`` reporting only (``streamrt run --on-stall report``), the process keeps running
and ``/healthz`` answers 503 naming the stall: for orchestrators whose liveness probe restarts
the worker (Kubernetes). Flink has no in-process watchdog; there, liveness probes and the
JobManager's heartbeat timeouts play this part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable

from streamrt.runtime.job import Job, JobStatus
from streamrt.runtime.source_task import SourceTask
from streamrt.runtime.statistics import JobStatistics

__all__ = ["DEFAULT_STALL_TIMEOUT_S", "EXIT_STALLED", "StallWatchdog", "exit_on_stall"]

logger = logging.getLogger("streamrt")

#: ``streamrt run --stall-timeout`` default: far above the longest loop stall measured
#: (a checkpoint snapshot of 1 M keys holds the loop ~0.1 s, BENCHMARKS.md), far below the
#: "hung forever" it is meant to end.
DEFAULT_STALL_TIMEOUT_S = 60.0

#: exit status of a process ended by the watchdog (sysexits.h ``EX_SOFTWARE``): distinct from
#: a failed job (1), Ctrl-C (130) and SIGKILL/OOM (137)
EXIT_STALLED = 70


def exit_on_stall(reason: str) -> None:
    """End the process at once with ``EXIT_STALLED``, after saying why on stderr."""
    print(f"streamrt: {reason}; exiting with status {EXIT_STALLED}", file=sys.stderr, flush=True)
    logging.shutdown()  # flush the log handlers: nothing else runs after os._exit
    os._exit(EXIT_STALLED)


class StallWatchdog:
    """Watches one job's event loop and progress; calls ``on_stall(reason)`` once on a stall.

    Use ``async with watchdog.watching(lambda: job):`` in the job's event loop; the job may
    still be ``None`` (restoring) and is read on each beat.

    Args:
        job_name: named in the reason.
        timeout_s: how long the loop may be blocked, or the job make no progress while its
            consumer lag grows, before it counts as stalled; must be > 0.
        on_stall: called once, from the watchdog thread, with the reason (default: end the
            process, ``exit_on_stall``). ``stalled`` is set before it is called.
        interval_s: how often the loop beats and the thread checks (default: a quarter of
            the timeout, at most 1 s).
    """

    def __init__(
        self,
        job_name: str,
        timeout_s: float,
        *,
        on_stall: Callable[[str], None] = exit_on_stall,
        interval_s: float | None = None,
    ) -> None:
        if not timeout_s > 0:
            msg = f"the stall timeout must be > 0 s; got {timeout_s!r} (0 turns the watchdog off)"
            raise ValueError(msg)
        self.job_name = job_name
        self.timeout_s = timeout_s
        self.interval_s = interval_s if interval_s is not None else min(1.0, timeout_s / 4)
        self._on_stall = on_stall
        #: the reason, once a stall was detected (it stays set: the process is suspect)
        self.stalled: str | None = None
        self._beat = time.monotonic()
        self._loop_thread = threading.get_ident()
        self._no_progress: str | None = None  # set by the beat, acted on by the thread
        self._window: tuple[float, int, float] | None = None  # since, records read, lag then

    @contextlib.asynccontextmanager
    async def watching(self, job: Callable[[], Job | None]) -> AsyncIterator[None]:
        """Watch while the block runs: a beat task in this loop plus the checking thread."""
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        done = threading.Event()
        thread = threading.Thread(
            target=self._check_until, args=(done,), name="streamrt-stall-watchdog", daemon=True
        )
        beating = asyncio.get_running_loop().create_task(self._beat_until_cancelled(job))
        thread.start()
        try:
            yield
        finally:
            done.set()
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            # the thread wakes on `done` at once; bounded anyway, it is a daemon
            await asyncio.to_thread(thread.join, self.interval_s + 1.0)

    # -- in the event loop ------------------------------------------------------------------------
    async def _beat_until_cancelled(self, job: Callable[[], Job | None]) -> None:
        while True:
            self._beat = time.monotonic()
            self._check_progress(job())
            await asyncio.sleep(self.interval_s)

    def _check_progress(self, job: Job | None) -> None:
        """Track records read and consumer lag; note a stall once lag grew without reads."""
        if job is None or job.status is not JobStatus.RUNNING or job.stopping:
            self._window = None  # restarting, stopping or not started: not expected to read
            return
        stats = job.statistics()
        lag = _consumer_lag(stats)
        if lag is None:  # no Kafka source: nothing says input is waiting
            self._window = None
            return
        read = _records_read(job, stats)
        now = time.monotonic()
        if self._window is None or read != self._window[1]:
            self._window = (now, read, lag)
            return
        since, _, lag_then = self._window
        if lag > lag_then and now - since > self.timeout_s:
            self._no_progress = (
                f"job {self.job_name!r} stalled: its sources read no record for "
                f"{now - since:.0f} s while the Kafka consumer lag grew from {lag_then:.0f} "
                f"to {lag:.0f} "
                f"(--stall-timeout {self.timeout_s:g} s)"
            )

    # -- in the watchdog thread -------------------------------------------------------------------
    def _check_until(self, done: threading.Event) -> None:
        while not done.wait(self.interval_s):
            reason = self._blocked_loop() or self._no_progress
            if reason is not None:
                self.stalled = reason
                logger.critical("%s", reason)
                self._on_stall(reason)
                return

    def _blocked_loop(self) -> str | None:
        blocked = time.monotonic() - self._beat
        if blocked <= self.timeout_s:
            return None
        # sys._current_frames is the documented way to read another thread's stack (the
        # faulthandler module only prints it); it names the call holding the loop
        frame = sys._current_frames().get(self._loop_thread)  # noqa: SLF001
        where = "an unknown place"
        if frame is not None:
            stack = traceback.extract_stack(frame)
            logger.critical("the event loop thread is at:\n%s", "".join(stack.format()))
            # the innermost frame outside the standard library is the caller to blame
            stdlib = sysconfig.get_paths()["stdlib"]
            ours = [f for f in stack if not f.filename.startswith(stdlib)] or list(stack)
            where = f"{ours[-1].name} ({ours[-1].filename}:{ours[-1].lineno})"
        return (
            f"job {self.job_name!r} stalled: its event loop has been blocked for {blocked:.1f} s "
            f"(--stall-timeout {self.timeout_s:g} s), in {where}; a synchronous call holds it "
            "(time.sleep, blocking I/O, a long computation): move it to asyncio.to_thread"
        )


def _consumer_lag(stats: JobStatistics) -> float | None:
    """Total Kafka consumer lag of the job, or ``None`` when no source reports one."""
    lags = [c.value for c in stats.connectors if c.name == "kafka_consumer_lag"]
    return sum(lags) if lags else None


def _records_read(job: Job, stats: JobStatistics) -> int:
    """Records read by every source (their head operators' records in)."""
    heads = {(t.name, t.vertex.head.name) for t in job.tasks if isinstance(t, SourceTask)}
    return sum(o.records_in for o in stats.operators if (o.task, o.operator) in heads)
