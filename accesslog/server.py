"""The gRPC face of the collector: a thin `envoy.service.accesslog.v3.AccessLogService`.

A stream's first message proves its node (`accesslog.auth`); every message is then handed
to the `Collector`. A refused stream counts nothing. A credential revoked in the file ends
its streams at the next reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

import grpc
from envoy.service.accesslog.v3 import als_pb2, als_pb2_grpc
from grpc_health.v1 import _async as health_aio  # = health.aio, which grpc-stubs lacks
from grpc_health.v1 import health_pb2_grpc

from accesslog.auth import authenticate, check_same_node
from accesslog.collector import Collector
from accesslog.metrics import CollectorMetrics
from xds_server import server as xds_server
from xds_server.auth import CredentialStore, RefusalLog
from xds_server.credentials import Credential
from xds_server.errors import (
    BadRequest,
    LimitExceeded,
    PermissionDenied,
    StreamRefused,
    Unauthenticated,
)

ALS_SERVICE: Final = "envoy.service.accesslog.v3.AccessLogService"

_STATUS: Final[dict[type[StreamRefused], tuple[grpc.StatusCode, str]]] = {
    Unauthenticated: (grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
    PermissionDenied: (grpc.StatusCode.PERMISSION_DENIED, "permission_denied"),
    LimitExceeded: (grpc.StatusCode.RESOURCE_EXHAUSTED, "resource_exhausted"),
    BadRequest: (grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamLimits:
    """What one Envoy may cost: see `Settings` for each one's meaning."""

    max_message_bytes: int = 4 * 1024 * 1024
    max_streams_per_credential: int = 64


def grpc_options(limits: StreamLimits) -> list[tuple[str, int]]:
    return [
        # Bigger messages end the stream in gRPC core, before a byte of them is parsed.
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        # Without BDP probing a client's window stays small (see xds_server.server).
        ("grpc.http2.bdp_probe", 0),
        # Envoys hold their access-log streams for days; notice dead peers.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ]


@dataclass(eq=False)
class _Stream:
    """One stream: who it proved to be (after its first message), and why it was ended."""

    principal: Credential | None = None
    node: str = ""
    refusal: StreamRefused | None = None
    reader: asyncio.Task[None] | None = field(default=None, repr=False)


class AccessLogServicer(als_pb2_grpc.AccessLogServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        collector: Collector,
        credentials: CredentialStore,
        metrics: CollectorMetrics,
        limits: StreamLimits,
    ) -> None:
        self._collector = collector
        self._credentials = credentials
        self._metrics = metrics
        self._limits = limits
        self._streams: dict[str, set[_Stream]] = {}  # credential name -> its open streams
        self._refusals = RefusalLog("an access-log stream")
        credentials.subscribe(self._end_revoked)

    async def StreamAccessLogs(
        self,
        request_iterator: AsyncIterator[als_pb2.StreamAccessLogsMessage],
        context: grpc.aio.ServicerContext[
            als_pb2.StreamAccessLogsMessage, als_pb2.StreamAccessLogsResponse
        ],
    ) -> als_pb2.StreamAccessLogsResponse:
        stream = _Stream()
        # Read in a task of its own, so a revoked credential can end the stream between
        # two messages (never half-way through one).
        reader = stream.reader = asyncio.create_task(self._read(request_iterator, stream))
        try:
            await asyncio.wait({reader})
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            self._close(stream)
        if stream.refusal is not None:
            await self._abort(context, stream.refusal)
        if not reader.cancelled() and (error := reader.exception()) is not None:
            raise error
        return als_pb2.StreamAccessLogsResponse()

    async def _read(
        self, messages: AsyncIterator[als_pb2.StreamAccessLogsMessage], stream: _Stream
    ) -> None:
        try:
            async for message in messages:
                if stream.principal is None:
                    self._open(stream, message)
                else:
                    check_same_node(message, stream.node)
                self._collector.ingest(message)
        except StreamRefused as exc:
            stream.refusal = exc

    def _open(self, stream: _Stream, message: Any) -> None:
        try:
            principal, node = authenticate(message, self._credentials)
            streams = self._streams.setdefault(principal.name, set())
            if len(streams) >= self._limits.max_streams_per_credential:
                raise LimitExceeded(
                    f"credential {principal.name!r} already holds {len(streams)} "
                    "access-log streams (the limit)"
                )
        except StreamRefused:
            if message.HasField("http_logs"):
                self._metrics.refused.inc(len(message.http_logs.log_entry))
            raise
        streams.add(stream)
        stream.principal, stream.node = principal, node
        self._collector.stream_opened(node)

    def _close(self, stream: _Stream) -> None:
        if stream.principal is None:
            return
        streams = self._streams.get(stream.principal.name)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[stream.principal.name]
        self._collector.stream_closed(stream.node)
        stream.principal = None

    def _end_revoked(self) -> None:
        """After a credentials reload: end every stream whose credential is gone."""
        for streams in self._streams.values():
            for stream in streams:
                if stream.principal is None or self._credentials.is_current(stream.principal):
                    continue
                if stream.refusal is None:
                    stream.refusal = Unauthenticated("the xDS credential was revoked")
                if stream.reader is not None:
                    stream.reader.cancel()

    async def _abort(
        self, context: grpc.aio.ServicerContext[Any, Any], error: StreamRefused
    ) -> NoReturn:
        status, reason = _STATUS[type(error)]
        self._metrics.auth_refused.labels(reason).inc()
        self._refusals.note(context.peer(), error)
        await context.abort(status, str(error))


def create_server(
    collector: Collector,
    *,
    address: str,
    port: int,
    credentials: CredentialStore,
    metrics: CollectorMetrics,
    limits: StreamLimits | None = None,
) -> tuple[grpc.aio.Server, int, health_aio.HealthServicer]:
    """A server with the AccessLogService and health, bound but not started; returns its
    port. Health reports NOT_SERVING until the caller marks it SERVING after `start()`."""
    limits = limits or StreamLimits()
    server = grpc.aio.server(options=grpc_options(limits))
    als_pb2_grpc.add_AccessLogServiceServicer_to_server(
        AccessLogServicer(collector, credentials, metrics, limits), server
    )
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{address}:{port}")
    return server, bound, health_servicer


async def set_health(health_servicer: health_aio.HealthServicer, *, serving: bool) -> None:
    await xds_server.set_health(health_servicer, serving=serving, service=ALS_SERVICE)
