"""The ADS servicer over a real loopback gRPC channel, with the generated stub as the client."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
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
from xds_server.auth import CredentialStore
from xds_server.cache import DEFAULT_GROUP, SnapshotCache, XdsEvent
from xds_server.server import StreamLimits, create_server, set_health

CDS = type_urls.CLUSTER


@asynccontextmanager
async def running(
    cache: SnapshotCache,
    store: CredentialStore | None = None,
    limits: StreamLimits | None = None,
) -> AsyncIterator[grpc.aio.Channel]:
    if store is None:
        with tempfile.TemporaryDirectory() as tmp:
            store = credential_store(Path(tmp) / "credentials.json")
    server, port, health = create_server(
        cache, address="127.0.0.1", port=0, credentials=store, limits=limits
    )
    await server.start()
    await set_health(health, serving=True)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel
    finally:
        await channel.close(None)
        await server.stop(0)


class Client:
    """One ADS stream; a background task reads, because cancelling `call.read()` ends the RPC."""

    def __init__(self, channel: grpc.aio.Channel, token: str | None = ENVOY_TOKEN) -> None:
        metadata = bearer(token) if token is not None else None
        self.call: Any = ads_pb2_grpc.AggregatedDiscoveryServiceStub(
            channel
        ).StreamAggregatedResources(metadata=metadata)
        self._received: asyncio.Queue[Any] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read_all())

    async def _read_all(self) -> None:
        try:
            async for resp in self.call:
                await self._received.put(resp)
        except grpc.aio.AioRpcError as error:
            await self._received.put(error)  # `read` raises it: the status the server ended with
            return
        await self._received.put(grpc.aio.EOF)  # type: ignore[attr-defined]

    async def send(self, req: discovery_pb2.DiscoveryRequest) -> None:
        await self.call.write(req)

    async def read(self, timeout: float = 2.0) -> discovery_pb2.DiscoveryResponse:
        resp = await asyncio.wait_for(self._received.get(), timeout)
        if isinstance(resp, grpc.aio.AioRpcError):
            raise resp
        assert isinstance(resp, discovery_pb2.DiscoveryResponse), resp
        return resp

    async def ended(self, timeout: float = 2.0) -> bool:
        return await asyncio.wait_for(self._received.get(), timeout) is grpc.aio.EOF  # type: ignore[attr-defined]

    async def close(self) -> None:
        self.call.cancel()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_stream_gets_clusters_pushes_and_never_resends_a_nack() -> None:
    events: list[XdsEvent] = []
    cache = SnapshotCache(on_event=events.append)
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1"))

    async def scenario() -> None:
        async with running(cache) as channel:
            client = Client(channel)
            await client.send(request(CDS))
            first = await client.read()
            assert (first.version_info, names_of(first)) == ("v1", ["orders", "users"])
            await client.send(request(CDS, version="v1", nonce=first.nonce))

            cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2", clusters=("orders",)))
            pushed = await client.read()
            assert (pushed.version_info, names_of(pushed)) == ("v2", ["orders"])

            await client.send(request(CDS, version="v1", nonce=pushed.nonce, error="bad cluster"))
            with pytest.raises(TimeoutError):
                await client.read(timeout=0.3)
            assert [(e.kind, e.version, e.error) for e in events] == [
                ("ack", "v1", None),
                ("nack", "v2", "bad cluster"),
            ]

            cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v3"))
            assert (await client.read()).version_info == "v3"
            await client.close()

    run(scenario)


def test_stream_end_removes_its_watches() -> None:
    cache = SnapshotCache()
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1"))

    async def scenario() -> None:
        async with running(cache) as channel:
            client = Client(channel)
            await client.send(request(CDS))
            await client.read()
            assert cache.stream_count == 1
            await client.call.done_writing()
            # The server ends its side too: the client sees the end of the stream.
            assert await client.ended()
            assert await client.call.code() == grpc.StatusCode.OK
            for _ in range(100):
                if cache.stream_count == 0:
                    break
                await asyncio.sleep(0.01)
            assert cache.stream_count == 0

    run(scenario)


def test_many_concurrent_streams_each_get_their_snapshot() -> None:
    cache = SnapshotCache()

    async def scenario() -> None:
        async with running(cache, limits=StreamLimits(max_streams_per_credential=50)) as channel:
            clients = [Client(channel) for _ in range(50)]
            for i, client in enumerate(clients):
                await client.send(request(CDS, node_id=f"envoy-1/{i}"))
            cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1"))
            responses = await asyncio.gather(*(c.read() for c in clients))
            assert {r.version_info for r in responses} == {"v1"}
            assert cache.stream_count == 50
            for client in clients:
                await client.close()
            for _ in range(100):
                if cache.stream_count == 0:
                    break
                await asyncio.sleep(0.01)
            assert cache.stream_count == 0

    run(scenario)


def test_delta_ads_is_unimplemented() -> None:
    async def scenario() -> None:
        async with running(SnapshotCache()) as channel:
            call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).DeltaAggregatedResources()
            await call.write(discovery_pb2.DeltaDiscoveryRequest(type_url=CDS))
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await asyncio.wait_for(call.read(), 2)
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED

    run(scenario)


def test_health_reports_serving() -> None:
    async def scenario() -> None:
        async with running(SnapshotCache()) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            resp = await stub.Check(
                health_pb2.HealthCheckRequest(
                    service="envoy.service.discovery.v3.AggregatedDiscoveryService"
                )
            )
            assert resp.status == health_pb2.HealthCheckResponse.SERVING

    run(scenario)
