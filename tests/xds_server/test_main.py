"""`python -m xds_server --snapshot-file F` as a real process: serves, reports health, stops."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.xds_server.helpers import (
    ENVOY_TOKEN,
    bearer,
    credential_store,
    make_snapshot,
    names_of,
    request,
)
from xds_server import type_urls
from xds_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_serving(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(100):
            try:
                resp = await stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"xds_server never reported SERVING on {target}")


async def _first_clusters(target: str) -> list[str]:
    async with grpc.aio.insecure_channel(target) as channel:
        call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).StreamAggregatedResources(
            metadata=bearer(ENVOY_TOKEN)
        )
        await call.write(request(type_urls.CLUSTER))
        resp = await asyncio.wait_for(call.read(), 5)
        call.cancel()
        return names_of(resp)


def test_module_serves_a_snapshot_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    snapshot_file = tmp_path / "snapshot.pb"
    snapshot_file.write_bytes(make_snapshot("bench").to_bytes())
    port = _free_port()
    credential_store(tmp_path / "credentials.json")
    env = dict(
        os.environ,
        TOLLGATE_XDS_PORT=str(port),
        TOLLGATE_XDS_SHUTDOWN_GRACE="0.5",
        TOLLGATE_XDS_CREDENTIALS=str(tmp_path / "credentials.json"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "xds_server", "--snapshot-file", str(snapshot_file)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        target = f"127.0.0.1:{port}"
        asyncio.run(_wait_serving(target))
        assert asyncio.run(_first_clusters(target)) == ["orders", "users"]
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "serving snapshot 'bench'" in stderr
    assert "stopping" in stderr
    assert ENVOY_TOKEN not in stderr


def test_module_refuses_to_start_without_its_credentials_file(tmp_path: Path) -> None:
    snapshot_file = tmp_path / "snapshot.pb"
    snapshot_file.write_bytes(make_snapshot("bench").to_bytes())
    for extra in ({}, {"TOLLGATE_XDS_CREDENTIALS": str(tmp_path / "absent.json")}):
        env = {k: v for k, v in os.environ.items() if k != "TOLLGATE_XDS_CREDENTIALS"}
        proc = subprocess.run(
            [sys.executable, "-m", "xds_server", "--snapshot-file", str(snapshot_file)],
            cwd=ROOT,
            env={**env, "TOLLGATE_XDS_PORT": str(_free_port()), **extra},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert "TOLLGATE_XDS_CREDENTIALS" in proc.stderr or "absent.json" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_settings_come_from_the_environment_with_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    s = Settings.from_env(
        {
            "TOLLGATE_XDS_PORT": "19000",
            "TOLLGATE_MGMT_URL": "http://mgmt:8000/",
            "TOLLGATE_INTERNAL_TOKEN": "s3cret",
            "TOLLGATE_XDS_POLL_INTERVAL": "1.5",
        }
    )
    assert (s.port, s.mgmt_url, s.poll_interval) == (19000, "http://mgmt:8000", 1.5)
    assert "s3cret" not in repr(s)
