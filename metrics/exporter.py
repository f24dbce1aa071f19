"""The HTTP endpoints of a worker: ``/metrics``, ``/healthz``, ``/readyz``, ``/job``.

Served by aiohttp (``web.Application`` behind an ``AppRunner`` and a ``TCPSite``) in the job's
own event loop (default ``0.0.0.0:9249``, Flink's Prometheus port). aiohttp is the maintained
asyncio HTTP server, and the control endpoints to come (POST with a bearer token) need a real
HTTP stack. Serving from the job's loop is deliberate: if the loop is blocked, ``/healthz``
cannot answer and a liveness probe fails, which is the truth.

* ``/metrics``: the job's statistics (``StreamrtCollector``, read at scrape time) plus
  ``prometheus_client``'s process and platform collectors. The format is negotiated as
  ``prometheus_client``'s own handlers do: Prometheus text by default, OpenMetrics when the
  ``Accept`` header asks for ``application/openmetrics-text``; gzipped when the
  ``Accept-Encoding`` header allows gzip.
* ``/healthz``: 200 while the process serves, its job has not failed and it has not stalled
  (JSON with the job status, the event loop's lag and ``"stalled": false``); 503 once the job
  failed or the stall watchdog (``streamrt.watchdog``) found it stalled (``"stalled": true``
  and the reason in ``"stall"``), so a supervisor or liveness probe restarts it.
* ``/readyz``: 200 while the job is ready (``Job.readiness()``: running, every source
  connected, no task failing, not stopping); 503 otherwise, with the reason ("stopping" as
  soon as a graceful stop begins).
* ``/job``: the job graph (tasks, chains, parallelism, edges) with live counts, the restart
  count and the restart strategy, as JSON.

GET and HEAD are allowed there; other methods get 405, unknown paths 404.

Control endpoints (POST, JSON body), used by ``streamrt savepoint`` and ``streamrt stop``:

* ``/savepoint`` ``{"directory": "..."}``: take a savepoint (the server's default directory when
  none is given) and answer its path once it is durable;
* ``/stop`` ``{"savepoint": true | "dir" | null, "drain": false}``: stop the job gracefully
  (after a savepoint when asked, answering its path; else after a final checkpoint when
  checkpointing is on).

Because the server binds every interface for Prometheus, control requests are refused (403)
unless they come from a loopback address, or a control token is set and presented as
``Authorization: Bearer <token>`` (then the token is required from every address).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Self

from aiohttp import web
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder, gzip_accepted

from metrics.collector import StreamrtCollector
from streamrt.errors import StreamrtError
from streamrt.runtime.job import Job, JobStatus
from streamrt.runtime.statistics import CheckpointStatistics, OperatorStatistics, TaskStatistics

__all__ = ["DEFAULT_METRICS_PORT", "MetricsServer"]

logger = logging.getLogger(__name__)

DEFAULT_METRICS_PORT = 9249

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# /job keys that differ from the statistics dataclasses' field names
_OPERATOR_KEYS = {"operator_id": "id"}


class MetricsServer:
    """Serves one job's metrics and health over HTTP.

    Args:
        job: the job to expose (settable later through ``job``).
        host: the address to listen on; ``0.0.0.0`` (or ``""``) for every interface.
        port: the port to listen on; 0 picks a free one (see ``port`` after ``start``).
        loop_lag_interval: how often the event loop's responsiveness is measured, seconds.
        control_token: when set, control requests must present it as a bearer token.
        savepoint_dir: where ``/savepoint`` and ``/stop`` put savepoints not given a directory.
    """

    def __init__(
        self,
        job: Job | None = None,
        *,
        host: str = "0.0.0.0",
        port: int = DEFAULT_METRICS_PORT,
        loop_lag_interval: float = 0.5,
        control_token: str | None = None,
        savepoint_dir: str = "savepoints",
    ) -> None:
        self.job = job
        self._control_token = control_token
        self.savepoint_dir = savepoint_dir
        self.host = host
        self.port = port
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(
            StreamrtCollector(
                lambda: [self.job] if self.job else [], loop_lag=lambda: self.loop_lag_seconds
            )
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._runner: web.AppRunner | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._interval = loop_lag_interval
        self.loop_lag_seconds = 0.0
        #: the stall, if one was detected (set by ``streamrt run`` to its watchdog's
        #: ``stalled``); ``None`` while healthy
        self.stall_reason: Callable[[], str | None] = lambda: None
        self._routes: dict[str, _Handler] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/job": self._job,
        }

    async def start(self) -> Self:
        """Listen; returns ``self`` (``port`` is then the bound port).

        Raises:
            RuntimeError: the server is already started.
            OSError: the address cannot be bound.
        """
        if self._runner is not None:
            msg = f"metrics server already listening on port {self.port}"
            raise RuntimeError(msg)
        app = web.Application(middlewares=[self._answer_errors])
        for path, handler in self._routes.items():
            app.router.add_get(path, handler)  # HEAD too
            app.router.add_get(path + "/", handler)
        app.router.add_post("/savepoint", self._savepoint)
        app.router.add_post("/stop", self._stop)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host or None, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
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
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

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
    @web.middleware
    async def _answer_errors(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Turn the router's 404 and 405 into short texts that name what is served."""
        try:
            return await handler(request)
        except web.HTTPMethodNotAllowed as error:
            allowed = ",".join(sorted(error.allowed_methods))
            return web.Response(
                status=405,
                text=f"method {request.method} not allowed; use {allowed.replace(',', ' or ')}\n",
                headers={"Allow": allowed},
            )
        except web.HTTPNotFound:
            endpoints = ", ".join(self._routes)
            return web.Response(status=404, text=f"no endpoint {request.path}; try {endpoints}\n")

    # -- endpoints -------------------------------------------------------------------------------
    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(self.registry)
        headers = {"Content-Type": content_type}
        if gzip_accepted(request.headers.get("Accept-Encoding", "")):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        job = self.job
        stall = self.stall_reason()
        body: dict[str, Any] = {
            "status": job.status.value if job is not None else "none",
            "loop_lag_seconds": round(self.loop_lag_seconds, 4),
            "stalled": stall is not None,
        }
        healthy = True
        if stall is not None:
            body["stall"] = stall
            healthy = False
        if job is not None and job.status is JobStatus.FAILED:
            body["error"] = str(job.failure)
            healthy = False
        return web.json_response(body, status=200 if healthy else 503)

    async def _readyz(self, request: web.Request) -> web.StreamResponse:
        job = self.job
        if job is None:
            return web.json_response({"ready": False, "reason": "no job yet"}, status=503)
        ready, reason = job.readiness()
        if ready:
            return web.json_response({"ready": True, "status": "running"})
        body: dict[str, Any] = {"ready": False, "reason": reason}
        if job.failure is not None:
            body["error"] = str(job.failure)
        return web.json_response(body, status=503)

    # -- control -------------------------------------------------------------------------------
    def _refusal(self, request: web.Request) -> web.Response | None:
        """403 unless the request may control the job (see the module docstring)."""
        if self._control_token is not None:
            presented = request.headers.get("Authorization", "")
            if hmac.compare_digest(presented, f"Bearer {self._control_token}"):
                return None
            reason = "control requests need the control token (Authorization: Bearer ...)"
        else:
            try:
                if ipaddress.ip_address(request.remote or "").is_loopback:
                    return None
            except ValueError:
                pass
            reason = (
                f"control requests are only served to loopback, not {request.remote}; start "
                "the job with --control-token to allow them from elsewhere"
            )
        return web.json_response({"error": reason}, status=403)

    async def _control_body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"the body must be a JSON object: {exc}\n") from exc
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text=f"the body must be a JSON object; got {body!r}\n")
        return body

    async def _savepoint(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        body = await self._control_body(request)
        return await self._take_savepoint(str(body.get("directory") or self.savepoint_dir), None)

    async def _stop(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        body = await self._control_body(request)
        drain = bool(body.get("drain", False))
        savepoint = body.get("savepoint")
        if savepoint:
            directory = savepoint if isinstance(savepoint, str) else self.savepoint_dir
            return await self._take_savepoint(directory, drain)
        job = self.job
        if job is None:
            return web.json_response({"error": "no job yet"}, status=409)
        job.stop(drain=drain)
        return web.json_response({"stopping": True, "drain": drain}, status=202)

    async def _take_savepoint(self, directory: str, stop: bool | None) -> web.StreamResponse:
        job = self.job
        if job is None:
            return web.json_response({"error": "no job yet"}, status=409)
        try:
            savepoint = await job.savepoint(directory, stop=stop)
        except StreamrtError as exc:
            return web.json_response({"error": str(exc)}, status=409)
        return web.json_response(
            {"path": savepoint.location, "checkpoint_id": savepoint.checkpoint_id}
        )

    async def _job(self, request: web.Request) -> web.StreamResponse:
        job = self.job
        if job is None:
            return web.json_response({"error": "no job yet"}, status=404)
        stats = job.statistics()
        return web.json_response(
            {
                "job": job.name,
                "status": job.status.value,
                "uptime_seconds": round(job.uptime_seconds, 3),
                "graph": job.graph.describe(),
                "operators": [_as_json(o, _OPERATOR_KEYS) for o in stats.operators],
                "tasks": [_as_json(t) for t in stats.tasks],
                "checkpoints": _as_json(stats.checkpoints),
                "restarts": stats.restarts,
                "restart_strategy": job.config.effective_restart_strategy.describe(),
                "time": time.time(),
            }
        )


def _as_json(
    stats: OperatorStatistics | TaskStatistics | CheckpointStatistics,
    renames: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One statistics record as a JSON object: its fields, floats rounded to 0.1 ms."""
    renames = renames or {}
    row: dict[str, Any] = {}
    for field in dataclasses.fields(stats):
        value = getattr(stats, field.name)
        row[renames.get(field.name, field.name)] = (
            round(value, 4) if isinstance(value, float) else value
        )
    return row
