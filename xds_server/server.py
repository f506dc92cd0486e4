"""The gRPC face of the cache: a thin `AggregatedDiscoveryService` servicer (state of the world).

A stream is authenticated before anything is read (`xds_server.auth`), then gets a
`StreamState`; a reader task checks each request with the stream's guard and feeds it in,
while the handler writes whatever it answers. Protocol decisions live in `xds_server.cache`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from grpc_health.v1 import _async as health_aio  # = health.aio, which grpc-stubs lacks
from grpc_health.v1 import health_pb2, health_pb2_grpc

from xds_server import type_urls
from xds_server.auth import CredentialStore, RefusalLog, StreamGuard, principal_from_metadata
from xds_server.cache import SnapshotCache, StreamState
from xds_server.credentials import Credential
from xds_server.errors import (
    BadRequest,
    LimitExceeded,
    PermissionDenied,
    StreamRefused,
    Unauthenticated,
)
from xds_server.metrics import OpenStream, XdsMetrics
from xds_server.node_reports import Forward, NodeReportsServicer, logged_only

# What we send can be large (every credential shard); what we take in is bounded by limits.
MAX_SEND_BYTES = 64 * 1024 * 1024
ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService"
# Names are taken in this many at a time, so one big request never holds the loop long.
NAMES_SLICE = 2_000

_STATUS: dict[type[StreamRefused], grpc.StatusCode] = {
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    LimitExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    BadRequest: grpc.StatusCode.INVALID_ARGUMENT,
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamLimits:
    """What one client may cost: see `Settings` for each one's meaning."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_resource_names: int = 10_000
    max_streams_per_credential: int = 8


def grpc_options(limits: StreamLimits) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", MAX_SEND_BYTES),
        # Bigger requests end the stream in gRPC core, before a byte of them is parsed.
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        # With BDP probing, gRPC widened a client's window and buffered whole 30 MB requests
        # before refusing them (4 streams: 287 MB resident); without, it refuses at 64 KiB.
        # Only what clients send us is affected: our responses ride the clients' windows.
        ("grpc.http2.bdp_probe", 0),
        # Envoys and sidecars hold their streams for days; notice dead peers.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        # gRPC's default SO_REUSEPORT lets a second server bind a port already served and
        # take half its connections, silently; a taken port must fail the start instead.
        ("grpc.so_reuseport", 0),
    ]


@dataclass(eq=False)
class _Session:
    """One authenticated stream, and why the server ended it (if it did)."""

    principal: Credential
    stream: StreamState
    refusal: StreamRefused | None = None


class AggregatedDiscoveryServicer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        cache: SnapshotCache,
        credentials: CredentialStore,
        limits: StreamLimits,
        metrics: XdsMetrics | None = None,
    ) -> None:
        self._cache = cache
        self._credentials = credentials
        self._limits = limits
        self._sessions: dict[str, set[_Session]] = {}
        self._refusals = RefusalLog("an ADS stream")
        self._metrics = metrics or XdsMetrics()
        self._metrics.open_streams = self.open_streams
        credentials.subscribe(self._end_revoked)

    def open_streams(self) -> list[OpenStream]:
        """Each open stream's credential and node id; safe to call from another thread."""
        return [
            (session.principal, session.stream.node_id)
            for sessions in list(self._sessions.values())
            for session in list(sessions)
        ]

    async def StreamAggregatedResources(
        self,
        request_iterator: AsyncIterator[discovery_pb2.DiscoveryRequest],
        context: grpc.aio.ServicerContext[
            discovery_pb2.DiscoveryRequest, discovery_pb2.DiscoveryResponse
        ],
    ) -> None:
        try:
            metadata = context.invocation_metadata() or ()
            principal = principal_from_metadata(metadata, self._credentials)
        except Unauthenticated as exc:
            await self._abort(context, exc)
        sessions = self._sessions.setdefault(principal.name, set())
        if len(sessions) >= self._limits.max_streams_per_credential:
            await self._abort(
                context,
                LimitExceeded(
                    f"credential {principal.name!r} already holds "
                    f"{len(sessions)} streams (the limit)"
                ),
            )
        session = _Session(principal, self._cache.open_stream())
        sessions.add(session)
        metrics = self._metrics
        metrics.streams_opened += 1
        guard = StreamGuard(principal, max_resource_names=self._limits.max_resource_names)
        reader = asyncio.create_task(self._read(request_iterator, session, guard))
        try:
            while True:
                responses = await session.stream.next_responses()
                if not responses:
                    break
                for response in responses:
                    metrics.pushed(response.type_url)
                    await context.write(response)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._cache.close_stream(session.stream)
            sessions.discard(session)
            if not sessions and self._sessions.get(principal.name) is sessions:
                del self._sessions[principal.name]
            log.debug(
                "stream %d of %r (node %r) closed",
                session.stream.stream_id,
                principal.name,
                session.stream.node_id,
            )
        if session.refusal is not None:
            await self._abort(context, session.refusal)

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
        self,
        requests: AsyncIterator[discovery_pb2.DiscoveryRequest],
        session: _Session,
        guard: StreamGuard,
    ) -> None:
        try:
            async for request in requests:
                guard.check(request)
                names = None
                if request.type_url in type_urls.NAMED_TYPES:
                    names = await _take_names(request.resource_names)
                session.stream.handle_request(request, names=names)
        except StreamRefused as exc:
            session.refusal = exc
        except grpc.aio.AioRpcError:
            pass  # the client went away; the writer sees the stream close
        finally:
            self._cache.close_stream(session.stream)

    def _end_revoked(self) -> None:
        """After a credentials reload: end every stream whose credential is gone."""
        for sessions in self._sessions.values():
            for session in sessions:
                if session.refusal is None and not self._credentials.is_current(session.principal):
                    session.refusal = Unauthenticated("the xDS credential was revoked")
                    self._cache.close_stream(session.stream)

    async def _abort(
        self, context: grpc.aio.ServicerContext[Any, Any], error: StreamRefused
    ) -> NoReturn:
        self._metrics.refused(error)
        self._refusals.note(context.peer(), error)
        await context.abort(_STATUS[type(error)], str(error))


async def _take_names(names: Sequence[str]) -> frozenset[str]:
    """The requested names as a set, built a slice at a time between other clients' work."""
    if len(names) <= NAMES_SLICE:
        return frozenset(names)
    taken: set[str] = set()
    for start in range(0, len(names), NAMES_SLICE):
        taken.update(names[start : start + NAMES_SLICE])
        await asyncio.sleep(0)
    return frozenset(taken)


def create_server(
    cache: SnapshotCache,
    *,
    address: str,
    port: int,
    credentials: CredentialStore,
    limits: StreamLimits | None = None,
    forward_conditions: Forward = logged_only,
    metrics: XdsMetrics | None = None,
) -> tuple[grpc.aio.Server, int, health_aio.HealthServicer]:
    """A server with ADS and health registered, bound but not started; returns its port.

    ADS needs a credential from `credentials`; health answers anyone (it tells nothing).
    Health reports NOT_SERVING until the caller marks it SERVING after `start()`.
    Streams, pushes and refusals are counted in `metrics`.
    """
    limits = limits or StreamLimits()
    server = grpc.aio.server(options=grpc_options(limits))
    ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(
        AggregatedDiscoveryServicer(cache, credentials, limits, metrics), server
    )
    # Nodes' degraded states, authenticated the same way, handed to `forward_conditions`.
    server.add_generic_rpc_handlers(
        (NodeReportsServicer(credentials, forward_conditions).handler(),)
    )
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{address}:{port}")
    return server, bound, health_servicer


async def set_health(
    health_servicer: health_aio.HealthServicer, *, serving: bool, service: str = ADS_SERVICE
) -> None:
    """The server's health, overall ("") and for its one named service."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", service):
        await health_servicer.set(name, status)
