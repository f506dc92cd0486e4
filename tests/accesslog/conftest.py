"""Fixtures of the collector's tests: Redis DB 11 (ours alone), credentials, a live server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from envoy.service.accesslog.v3 import als_pb2, als_pb2_grpc

from accesslog.collector import Collector
from accesslog.metrics import CollectorMetrics
from accesslog.server import StreamLimits, create_server
from accesslog.sink import RedisSink, client
from tests.accesslog.builders import T0
from tests.redis_server import database_url
from xds_server import credentials
from xds_server.auth import CredentialStore

# The collector's tests own this database of the machine's Redis.
REDIS_DB = 11
USAGE_KEYS = "tollgate:usage:*"


def text_hash(r: redis.Redis, key: str) -> dict[str, str]:
    """A hash of a client made with decode_responses=True, typed as what it is."""
    return {str(k): str(v) for k, v in r.hgetall(key).items()}


def clear_usage(r: redis.Redis) -> None:
    for key in r.scan_iter(USAGE_KEYS, count=1000):
        r.delete(key)


@pytest.fixture
def usage_redis(machine_redis: str) -> Iterator[redis.Redis]:
    """DB 11 of the machine's Redis, with no usage keys before or after the test."""
    r = redis.Redis.from_url(database_url(machine_redis, REDIS_DB), decode_responses=True)
    clear_usage(r)
    try:
        yield r
    finally:
        clear_usage(r)
        r.close()


@dataclass
class Tokens:
    path: Path
    envoy: str  # credential "gw", role envoy
    sidecar: str  # credential "sc", role sidecar


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    path = tmp_path / "xds-credentials.json"
    envoy, sidecar = credentials.new_token(), credentials.new_token()
    current = credentials.added((), "gw", "envoy", envoy)
    credentials.save(path, credentials.added(current, "sc", "sidecar", sidecar))
    return Tokens(path, envoy, sidecar)


class Clock:
    """The collector's wall clock, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Live:
    """A collector on a loopback port and a channel to it."""

    channel: grpc.aio.Channel
    collector: Collector
    credentials: CredentialStore
    metrics: CollectorMetrics
    clock: Clock
    port: int
    calls: list[
        grpc.aio.StreamUnaryCall[als_pb2.StreamAccessLogsMessage, als_pb2.StreamAccessLogsResponse]
    ] = field(default_factory=list)

    def stream(
        self,
    ) -> grpc.aio.StreamUnaryCall[
        als_pb2.StreamAccessLogsMessage, als_pb2.StreamAccessLogsResponse
    ]:
        call: Any = als_pb2_grpc.AccessLogServiceStub(self.channel).StreamAccessLogs()
        self.calls.append(call)
        return call  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def live_collector(
    redis_url: str,
    credentials_file: Path,
    *,
    now: float = T0 + 30,
    max_pending_dims: int = 1000,
    limits: StreamLimits | None = None,
) -> AsyncIterator[Live]:
    store = CredentialStore(credentials_file)
    store.load()
    metrics = CollectorMetrics()
    clock = Clock(now)
    r = client(redis_url, 1.0)
    collector = Collector(RedisSink(r), metrics, max_pending_dims=max_pending_dims, clock=clock)
    await collector.start()
    server, port, _ = create_server(
        collector,
        address="127.0.0.1",
        port=0,
        credentials=store,
        metrics=metrics,
        limits=limits,
    )
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    live = Live(channel, collector, store, metrics, clock, port)
    try:
        yield live
    finally:
        for call in live.calls:
            call.cancel()
        await channel.close(None)
        await server.stop(None)
        await r.aclose()


@pytest.fixture
def usage_redis_url(usage_redis: redis.Redis) -> str:
    kwargs = usage_redis.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{REDIS_DB}"
