"""xds_server's /metrics, scraped for real while Envoy-like clients hold authenticated ADS
streams: connections, pushes, ACKs, NACKs, refusals and served versions move as they happen."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from tests.xds_server.helpers import (
    ENVOY_TOKEN,
    SIDECAR_TOKEN,
    credential_store,
    make_snapshot,
    request,
)
from tests.xds_server.test_main import ROOT, _first_clusters, _free_port, _wait_serving
from tests.xds_server.test_server import Client, run
from xds_server import credentials, type_urls
from xds_server.cache import DEFAULT_GROUP, SnapshotCache
from xds_server.metrics import XdsCollector, XdsMetrics
from xds_server.server import create_server, set_health

CDS = type_urls.CLUSTER
KEYS = type_urls.CREDENTIAL_SHARD
CLUSTER = "envoy.config.cluster.v3.Cluster"
SHARD = "tollgate.v1.CredentialShard"
ENVOY_2_TOKEN = "tgx_envoy-two-test-token-0123456789abcdefghijklmnop"
SIDECAR_NODE = "sidecar-1/extauthz-host-7"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@dataclass
class Running:
    channel: grpc.aio.Channel
    metrics_port: int

    async def scrape(self) -> Samples:
        return await asyncio.to_thread(_scrape, self.metrics_port)

    async def until(self, wanted: Callable[[Samples], bool], timeout: float = 5.0) -> Samples:
        """The first scrape `wanted` accepts: counts move when the server has read a request."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            samples = await self.scrape()
            if wanted(samples) or asyncio.get_running_loop().time() > deadline:
                return samples
            await asyncio.sleep(0.02)


@asynccontextmanager
async def serving(cache: SnapshotCache, metrics: XdsMetrics, path: Path) -> AsyncIterator[Running]:
    store = credential_store(path, ("envoy-2", "envoy", ENVOY_2_TOKEN))
    server, port, health = create_server(
        cache, address="127.0.0.1", port=0, credentials=store, metrics=metrics
    )
    registry = CollectorRegistry()
    registry.register(XdsCollector(metrics, cache, lambda: credentials.load(path)))
    http, thread = start_http_server(0, "127.0.0.1", registry=registry)
    await server.start()
    await set_health(health, serving=True)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Running(channel, http.server_port)
    finally:
        await channel.close(None)
        await server.stop(0)
        http.shutdown()
        http.server_close()
        thread.join(5)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def streams(samples: Samples) -> dict[str, float]:
    return {
        dict(labels)["credential"]: count
        for (name, labels), count in samples.items()
        if name == "tollgate_xds_streams"
    }


def test_connections_pushes_acks_and_nacks_are_counted_as_they_happen(tmp_path: Path) -> None:
    metrics = XdsMetrics()
    cache = SnapshotCache(on_event=metrics.on_event)
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1"))

    async def scenario() -> None:
        async with serving(cache, metrics, tmp_path / "c.json") as running:
            idle = await running.scrape()
            envoy = Client(running.channel, token=ENVOY_TOKEN)
            await envoy.send(request(CDS))
            first = await envoy.read()
            await envoy.send(request(CDS, version="v1", nonce=first.nonce))
            cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2", clusters=("orders",)))
            # Sent only once the ACK re-opened the watch: the ACK is counted by now.
            pushed = await envoy.read()
            await envoy.send(request(CDS, version="v1", nonce=pushed.nonce, error="bad cluster"))
            sidecar = Client(running.channel, token=SIDECAR_TOKEN)
            await sidecar.send(request(KEYS, node_id=SIDECAR_NODE))
            await sidecar.read()
            connected = await running.until(
                lambda s: value(s, "tollgate_xds_nacks_total", type=CLUSTER) == 1
            )
            await envoy.close()
            dropped = await running.until(lambda s: streams(s)["envoy-1"] == 0)
            await sidecar.close()

            assert streams(idle) == {"envoy-1": 0, "envoy-2": 0, "sidecar-1": 0}
            assert value(idle, "tollgate_xds_credentials", role="envoy") == 2
            assert value(idle, "tollgate_xds_credentials", role="sidecar") == 1

            assert streams(connected) == {"envoy-1": 1, "envoy-2": 0, "sidecar-1": 1}
            assert value(connected, "tollgate_xds_connected_nodes", role="envoy") == 1
            assert value(connected, "tollgate_xds_connected_nodes", role="sidecar") == 1
            assert value(connected, "tollgate_xds_streams_opened_total") == 2
            assert value(connected, "tollgate_xds_pushes_total", type=CLUSTER) == 2
            assert value(connected, "tollgate_xds_pushes_total", type=SHARD) == 1
            assert value(connected, "tollgate_xds_acks_total", type=CLUSTER) == 1
            assert value(connected, "tollgate_xds_nacks_total", type=CLUSTER) == 1
            assert ("tollgate_xds_acks_total", (("type", SHARD),)) not in connected

            assert streams(dropped) == {"envoy-1": 0, "envoy-2": 0, "sidecar-1": 1}
            assert value(dropped, "tollgate_xds_connected_nodes", role="envoy") == 0

    run(scenario)


def test_the_served_version_of_each_type_is_exported_per_group(tmp_path: Path) -> None:
    metrics = XdsMetrics()
    cache = SnapshotCache()
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1", type_versions={CDS: "c7"}))

    async def scenario() -> None:
        async with serving(cache, metrics, tmp_path / "c.json") as running:
            before = await running.scrape()
            cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2"))
            after = await running.scrape()

            assert value(
                before, "tollgate_xds_snapshot_info", group="*", type=CLUSTER, version="c7"
            )
            assert value(before, "tollgate_xds_snapshot_info", group="*", type=SHARD, version="v1")
            versions = {
                dict(labels)["version"]
                for name, labels in after
                if name == "tollgate_xds_snapshot_info"
            }
            assert versions == {"v2"}  # one series per type: the current version only
            compiled = value(
                after, "tollgate_xds_snapshot_compiled_timestamp_seconds", group="*", snapshot="v2"
            )
            assert compiled == 1700000000

    run(scenario)


@pytest.mark.parametrize(
    ("token", "ask", "reason"),
    [
        ("tgx_not-a-known-token-at-all-0000000000000000000", CDS, "unauthenticated"),
        (ENVOY_TOKEN, KEYS, "permission_denied"),
    ],
)
def test_refused_streams_are_counted_by_reason(
    tmp_path: Path, token: str, ask: str, reason: str
) -> None:
    metrics = XdsMetrics()
    cache = SnapshotCache()
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1"))

    async def scenario() -> None:
        async with serving(cache, metrics, tmp_path / "c.json") as running:
            client = Client(running.channel, token=token)
            await client.send(request(ask))
            with pytest.raises(grpc.aio.AioRpcError):
                await client.read()
            samples = await running.scrape()

            refused = {
                dict(labels)["reason"]: count
                for (name, labels), count in samples.items()
                if name == "tollgate_xds_refused_streams_total"
            }
            assert refused == {
                "unauthenticated": 0,
                "permission_denied": 0,
                "resource_exhausted": 0,
                "invalid_argument": 0,
            } | {reason: 1}

    run(scenario)


def test_no_label_carries_a_node_id_or_a_token(tmp_path: Path) -> None:
    metrics = XdsMetrics()
    cache = SnapshotCache(on_event=metrics.on_event)
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1"))

    async def scenario() -> None:
        async with serving(cache, metrics, tmp_path / "c.json") as running:
            sidecar = Client(running.channel, token=SIDECAR_TOKEN)
            await sidecar.send(request(KEYS, node_id=SIDECAR_NODE))
            await sidecar.read()
            samples = await running.scrape()
            await sidecar.close()

            values = {
                v for name, labels in samples if name.startswith("tollgate_xds_") for _, v in labels
            }
            assert "sidecar-1" in values  # the credential, which the operator named
            assert not {SIDECAR_NODE, SIDECAR_TOKEN, ENVOY_TOKEN} & values

    run(scenario)


def test_the_module_serves_metrics_on_its_metrics_port(tmp_path: Path) -> None:
    snapshot_file = tmp_path / "snapshot.pb"
    snapshot_file.write_bytes(make_snapshot("bench").to_bytes())
    port, metrics_port = _free_port(), _free_port()
    credential_store(tmp_path / "credentials.json")
    env = dict(
        os.environ,
        TOLLGATE_XDS_PORT=str(port),
        TOLLGATE_XDS_METRICS_PORT=str(metrics_port),
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
        asyncio.run(_first_clusters(target))
        samples = _scrape(metrics_port)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 0, stderr
    assert value(samples, "tollgate_xds_pushes_total", type=CLUSTER) == 1
    assert value(samples, "tollgate_xds_streams_opened_total") == 1
    assert value(samples, "tollgate_xds_snapshot_info", group="*", type=CLUSTER, version="bench")
    assert value(samples, "tollgate_xds_credentials", role="envoy") == 1
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in stderr
