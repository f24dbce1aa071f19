"""POST /savepoint and /stop: served to loopback, or to whoever presents the control token."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from metrics.exporter import MetricsServer
from streamrt import DataGeneratorSource, StreamExecutionEnvironment
from streamrt.control import post_control
from streamrt.runtime.completed_checkpoint import CompletedCheckpoint
from streamrt.testing import CollectSink
from tests.conftest import bounded, wait_until


def running_job(tmp_path: Path) -> tuple[Any, CollectSink[int]]:
    env = StreamExecutionEnvironment(buffer_timeout_ms=10)
    env.enable_checkpointing(3_600_000, storage=tmp_path / "chk")
    sink: CollectSink[int] = CollectSink()
    env.from_source(
        DataGeneratorSource(lambda i: i, None, records_per_second=2_000, batch_size=20),
        source_name="numbers",
    ).map(lambda v: v).uid("identity").sink_to(sink)
    return env.create_job("controlled"), sink


async def test_savepoint_then_stop_over_http_from_loopback(tmp_path: Path) -> None:
    job, sink = running_job(tmp_path)
    async with MetricsServer(job, host="127.0.0.1", port=0, savepoint_dir=str(tmp_path)) as srv:
        running = asyncio.create_task(job.run())
        await wait_until(lambda: job.readiness()[0], what="the job to run")
        await sink.wait_for(10)
        answer = await asyncio.to_thread(
            post_control, srv.url, "savepoint", {"directory": str(tmp_path / "sp")}, None, 30
        )
        assert Path(answer["path"]).parent == tmp_path / "sp"
        assert CompletedCheckpoint.load(answer["path"]).checkpoint_id == answer["checkpoint_id"]
        stopped = await asyncio.to_thread(
            post_control, srv.url, "stop", {"savepoint": True}, None, 30
        )
        result = await bounded(running)
        assert Path(stopped["path"]).parent == tmp_path  # the server's default directory
        assert result.job_name == "controlled"
        assert job.status.value == "finished"
        # stop-with-savepoint: the barrier was the last record the source emitted
        final = CompletedCheckpoint.load(stopped["path"])
        positions: dict[str, int] = {}
        for snapshot in final.task_snapshots():
            positions.update(snapshot.get("positions", {}))
        assert sum(positions.values()) == len(sink.values)


def _request(remote: str, headers: dict[str, str] | None = None) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (remote, 40_000) if name == "peername" else default
    )
    return make_mocked_request("POST", "/savepoint", headers=headers, transport=transport)


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_may_control_without_a_token(remote: str) -> None:
    assert MetricsServer()._refusal(_request(remote)) is None


def test_a_remote_address_without_the_token_is_refused() -> None:
    refused = MetricsServer()._refusal(_request("203.0.113.7"))
    assert refused is not None
    assert refused.status == 403
    assert json.loads(refused.text or "") == {
        "error": "control requests are only served to loopback, not 203.0.113.7; start the "
        "job with --control-token to allow them from elsewhere"
    }


def test_with_a_token_every_address_must_present_it() -> None:
    server = MetricsServer(control_token="s3cret")
    for remote in ("203.0.113.7", "127.0.0.1"):
        refused = server._refusal(_request(remote))
        assert refused is not None
        assert refused.status == 403
        wrong = server._refusal(_request(remote, {"Authorization": "Bearer nope"}))
        assert wrong is not None
        assert server._refusal(_request(remote, {"Authorization": "Bearer s3cret"})) is None


async def test_the_control_client_names_a_refusal(tmp_path: Path) -> None:
    job, _ = running_job(tmp_path)
    async with MetricsServer(job, host="127.0.0.1", port=0, control_token="t") as server:
        with pytest.raises(
            Exception, match=r"savepoint refused by http://127\.0\.0\.1:\d+ \(403\)"
        ):
            await asyncio.to_thread(post_control, server.url, "savepoint", {}, None, 10)
