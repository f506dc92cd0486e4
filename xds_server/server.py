"""The gRPC face of the cache: a thin `AggregatedDiscoveryService` servicer (state of the world).

Each stream gets a `StreamState`; a reader task feeds it requests while the handler writes
whatever it answers. All protocol decisions live in `xds_server.cache`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from grpc_health.v1 import _async as health_aio  # = health.aio, which grpc-stubs lacks
from grpc_health.v1 import health_pb2, health_pb2_grpc

from xds_server.cache import SnapshotCache, StreamState

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService"

GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Envoys and sidecars hold their streams for days; notice dead peers.
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
]

log = logging.getLogger(__name__)


class AggregatedDiscoveryServicer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):  # type: ignore[misc]
    def __init__(self, cache: SnapshotCache) -> None:
        self._cache = cache

    async def StreamAggregatedResources(
        self,
        request_iterator: AsyncIterator[discovery_pb2.DiscoveryRequest],
        context: grpc.aio.ServicerContext[
            discovery_pb2.DiscoveryRequest, discovery_pb2.DiscoveryResponse
        ],
    ) -> None:
        stream = self._cache.open_stream()
        reader = asyncio.create_task(_read(request_iterator, stream, self._cache))
        try:
            while True:
                responses = await stream.next_responses()
                if not responses:
                    break
                for response in responses:
                    await context.write(response)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._cache.close_stream(stream)
            log.debug("stream %d from node %r closed", stream.stream_id, stream.node_id)

    async def DeltaAggregatedResources(
        self,
        request_iterator: AsyncIterator[discovery_pb2.DeltaDiscoveryRequest],
        context: grpc.aio.ServicerContext[
            discovery_pb2.DeltaDiscoveryRequest, discovery_pb2.DeltaDiscoveryResponse
        ],
    ) -> None:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "Tollgate serves state-of-the-world ADS only; use GRPC (not DELTA_GRPC)",
        )


async def _read(
    requests: AsyncIterator[discovery_pb2.DiscoveryRequest],
    stream: StreamState,
    cache: SnapshotCache,
) -> None:
    try:
        async for request in requests:
            stream.handle_request(request)
    except grpc.aio.AioRpcError:
        pass  # the client went away; the writer sees the stream close
    finally:
        cache.close_stream(stream)


def create_server(
    cache: SnapshotCache, *, address: str, port: int
) -> tuple[grpc.aio.Server, int, health_aio.HealthServicer]:
    """A server with ADS and health registered, bound but not started; returns its port.

    Health reports NOT_SERVING until the caller marks it SERVING after `start()`.
    """
    server = grpc.aio.server(options=GRPC_OPTIONS)
    ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(
        AggregatedDiscoveryServicer(cache), server
    )
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{address}:{port}")
    return server, bound, health_servicer


async def set_health(health_servicer: health_aio.HealthServicer, *, serving: bool) -> None:
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for service in ("", ADS_SERVICE):
        await health_servicer.set(service, status)
