"""`python -m accesslog` as deployed: it starts from the environment, says where it listens
(never the token), and on SIGTERM writes what it counted before exiting 0."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
import redis
from envoy.service.accesslog.v3 import als_pb2_grpc

from mgmt.embedded.processes import ProcessGroup, free_port, wait_for_port
from tests.accesslog.builders import entry, key_id, message
from tests.accesslog.conftest import Tokens

pytestmark = pytest.mark.redis


async def _send(port: int, token: str, start: float) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = als_pb2_grpc.AccessLogServiceStub(channel).StreamAccessLogs()
        entries = [entry(application=4, key=5, start=start) for _ in range(3)]
        await call.write(message(entries, node="gw", token=token))
        await call.done_writing()
        await call  # answered once every message was read: all three are counted


def test_sigterm_writes_the_pending_counts_and_exits_0(
    tmp_path: Path, tokens: Tokens, usage_redis: redis.Redis, usage_redis_url: str
) -> None:
    port, metrics_port = free_port(), free_port()
    group = ProcessGroup(log_dir=tmp_path / "logs")
    try:
        child = group.python(
            "accesslog",
            "accesslog",
            env={
                "TOLLGATE_XDS_CREDENTIALS": str(tokens.path),
                "TOLLGATE_ACCESSLOG_PORT": str(port),
                "TOLLGATE_ACCESSLOG_METRICS_PORT": str(metrics_port),
                "TOLLGATE_REDIS_URL": usage_redis_url,
                # Longer than the test: only the last flush, at SIGTERM, writes.
                "TOLLGATE_ACCESSLOG_FLUSH_INTERVAL": "600",
            },
        )
        wait_for_port("127.0.0.1", port, timeout=30, process=child)
        start = time.time()
        asyncio.run(_send(port, tokens.envoy, start))
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            exposed = r.read().decode()
        assert 'tollgate_accesslog_entries_total{outcome="attributed"} 3.0' in exposed
        assert usage_redis.keys("tollgate:usage:m:*") == []  # nothing flushed yet
        os.kill(child.popen.pid, signal.SIGTERM)
        assert child.popen.wait(30) == 0
    finally:
        group.stop_all()
    minute = int(start // 60)
    assert usage_redis.hget(f"tollgate:usage:m:{minute}", "1|2|3|4|2xx|n") == "3"
    assert usage_redis.hget("tollgate:usage:keys", key_id(5)) == str(minute * 60)
    log = child.tail(200)
    assert f"listening on 127.0.0.1:{port}" in log
    assert tokens.envoy not in log


def test_without_the_credentials_file_it_exits_2_with_a_clear_line(tmp_path: Path) -> None:
    group = ProcessGroup(log_dir=tmp_path / "logs")
    try:
        child = group.python("accesslog", "accesslog", env={"TOLLGATE_XDS_CREDENTIALS": ""})
        assert child.popen.wait(30) == 2
    finally:
        group.stop_all()
    assert "TOLLGATE_XDS_CREDENTIALS is not set" in child.tail()
