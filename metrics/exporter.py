"""The HTTP endpoints of a worker: ``/metrics``, ``/healthz``, ``/readyz``, ``/job``.

One small asyncio HTTP/1.1 server per worker, in the job's own event loop (default
``0.0.0.0:9249``, Flink's Prometheus port). Serving from the job's loop is deliberate: if the
loop is blocked, ``/healthz`` cannot answer and a liveness probe fails, which is the truth.

* ``/metrics``: Prometheus text format: the job's statistics (``StreamrtCollector``, read at
  scrape time) plus ``prometheus_client``'s process and platform collectors.
* ``/healthz``: 200 while the process serves and its job has not failed (JSON with the job
  status and the event loop's lag); 503 once the job failed, so a supervisor restarts it.
* ``/readyz``: 200 while the job runs, every source has connected, and it is not failing;
  503 otherwise, with the reason.
* ``/job``: the job graph (tasks, chains, parallelism, edges) with live counts, as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Self

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from metrics.collector import StreamrtCollector
from streamrt.runtime.job import Job, JobStatus
from streamrt.runtime.source_task import SourceTask
from streamrt.runtime.task import TaskStatus

__all__ = ["DEFAULT_METRICS_PORT", "MetricsServer"]

logger = logging.getLogger(__name__)

DEFAULT_METRICS_PORT = 9249
_MAX_REQUEST = 16 * 1024


class MetricsServer:
    """Serves one job's metrics and health over HTTP.

    Args:
        job: the job to expose (settable later through ``job``).
        host / port: where to listen; port 0 picks a free one (see ``port`` after ``start``).
        loop_lag_interval: how often the event loop's responsiveness is measured, seconds.
    """

    def __init__(
        self,
        job: Job | None = None,
        *,
        host: str = "0.0.0.0",
        port: int = DEFAULT_METRICS_PORT,
        loop_lag_interval: float = 0.5,
    ) -> None:
        self.job = job
        self.host = host
        self.port = port
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StreamrtCollector(lambda: [self.job] if self.job else []))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._server: asyncio.Server | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._interval = loop_lag_interval
        self.loop_lag_seconds = 0.0
        self._routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/job": self._job,
        }

    async def start(self) -> Self:
        """Listen; returns ``self`` (``port`` is then the bound port)."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        # owned helper: cancelled and awaited in stop()
        self._heartbeat = asyncio.get_running_loop().create_task(self._measure_loop_lag())
        logger.info("metrics at http://%s:%d/metrics", self.host, self.port)
        return self

    async def stop(self) -> None:
        """Stop listening; idempotent."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (loopback when bound to all)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    async def _measure_loop_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self._interval
            await asyncio.sleep(self._interval)
            self.loop_lag_seconds = max(0.0, loop.time() - expected)

    # -- HTTP ------------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, content_type, body = await self._respond(reader)
            head = (
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode("latin-1")
            writer.write(head + body)
            await writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled; nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(self, reader: asyncio.StreamReader) -> tuple[int, str, bytes]:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except asyncio.LimitOverrunError:
            return _text(400, "request headers too large")
        if len(raw) > _MAX_REQUEST:
            return _text(400, "request headers too large")
        request_line = raw.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return _text(400, f"malformed request line {request_line!r}")
        method, target = parts[0], parts[1].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return _text(405, f"method {method} not allowed; use GET")
        route = self._routes.get(target.rstrip("/") or "/")
        if route is None:
            return _text(404, f"no endpoint {target}; try {', '.join(self._routes)}")
        status, content_type, body = route()
        return status, content_type, b"" if method == "HEAD" else body

    # -- endpoints -------------------------------------------------------------------------------
    def _metrics(self) -> tuple[int, str, bytes]:
        return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)

    def _healthz(self) -> tuple[int, str, bytes]:
        job = self.job
        status = job.status.value if job is not None else "none"
        body: dict[str, Any] = {
            "status": status,
            "loop_lag_seconds": round(self.loop_lag_seconds, 4),
        }
        if job is not None and job.status is JobStatus.FAILED:
            body["error"] = str(job.failure)
            return _json(503, body)
        return _json(200, body)

    def _readyz(self) -> tuple[int, str, bytes]:
        job = self.job
        if job is None:
            return _json(503, {"ready": False, "reason": "no job yet"})
        if job.status is not JobStatus.RUNNING:
            body: dict[str, Any] = {"ready": False, "reason": f"job is {job.status.value}"}
            if job.failure is not None:
                body["error"] = str(job.failure)
            return _json(503, body)
        failing = [t for t in job.tasks if t.status in (TaskStatus.FAILED, TaskStatus.CANCELED)]
        if failing:
            return _json(
                503, {"ready": False, "reason": f"task {failing[0]!r} is {failing[0].status.value}"}
            )
        waiting = [
            t
            for t in job.tasks
            if isinstance(t, SourceTask)
            and not t.reader_started
            and t.status is not TaskStatus.FINISHED
        ]
        if waiting or not job.tasks:
            return _json(503, {"ready": False, "reason": "sources are still connecting"})
        return _json(200, {"ready": True, "status": "running"})

    def _job(self) -> tuple[int, str, bytes]:
        job = self.job
        if job is None:
            return _json(404, {"error": "no job yet"})
        stats = job.statistics()
        return _json(
            200,
            {
                "job": job.name,
                "status": job.status.value,
                "uptime_seconds": round(job.uptime_seconds, 3),
                "graph": job.graph.describe(),
                "operators": [
                    {
                        "task": o.task,
                        "operator": o.operator,
                        "id": o.operator_id,
                        "subtask": o.subtask,
                        "records_in": o.records_in,
                        "records_out": o.records_out,
                        "errors": o.errors,
                        "current_input_watermark": o.current_input_watermark,
                        "current_output_watermark": o.current_output_watermark,
                    }
                    for o in stats.operators
                ],
                "tasks": [
                    {
                        "task": t.task,
                        "subtask": t.subtask,
                        "status": t.status,
                        "busy_seconds": round(t.busy_seconds, 4),
                        "idle_seconds": round(t.idle_seconds, 4),
                        "backpressured_seconds": round(t.backpressured_seconds, 4),
                        "records_in": t.records_in,
                        "records_out": t.records_out,
                    }
                    for t in stats.tasks
                ],
                "checkpoints": {
                    "completed": stats.checkpoints.completed,
                    "failed": stats.checkpoints.failed,
                    "in_progress": stats.checkpoints.in_progress,
                    "last_completed_id": stats.checkpoints.last_completed_id,
                    "last_duration_seconds": stats.checkpoints.last_duration_seconds,
                },
                "time": time.time(),
            },
        )


def _text(status: int, message: str) -> tuple[int, str, bytes]:
    return status, "text/plain; charset=utf-8", (message + "\n").encode()


def _json(status: int, body: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body).encode()
