"""The gRPC transport: Envoy's Authorization/Check over the one decision, plus health.

Sync `grpc.server` with a thread pool (measured faster than grpc.aio for this handler).
Who calls, and counting from a lease, are decided on the gRPC thread; a call that must
wait for Redis is handed over to the sidecar's event loop. Responses are already
serialized, so the serializer is the identity.
"""

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Final

import grpc
from envoy.service.auth.v3 import external_auth_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from extauthz.answers import Denial
from extauthz.decision import presented_key_id
from extauthz.gate import Gate, render_grpc
from extauthz.metrics import Decisions
from extauthz.route_context import RouteContext
from extauthz.store import Snapshot, Store

log = logging.getLogger(__name__)

SERVICE_NAME: Final = "envoy.service.auth.v3.Authorization"
# Longer than Envoy's ext_authz timeout: past it nobody is waiting for the answer anyway.
COUNT_TIMEOUT_SECONDS: Final = 2.0
_SERVING: Final = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING: Final = health_pb2.HealthCheckResponse.NOT_SERVING


def _identity(response: bytes) -> bytes:
    return response


def _request_headers(http: Any) -> Mapping[str, str]:
    """Envoy sends `headers`, or `header_map` with raw bytes when encode_raw_headers is on."""
    headers: Mapping[str, str] = http.headers
    if headers or not http.HasField("header_map"):
        return headers
    raw: dict[str, str] = {}
    for entry in http.header_map.headers:
        raw_value: bytes = entry.raw_value
        value = raw_value.decode("utf-8", "surrogateescape") if raw_value else entry.value
        raw.setdefault(entry.key, value)
    return raw


async def _awaited(answer: bytes | Awaitable[bytes]) -> bytes:
    return answer if isinstance(answer, bytes) else await answer


class CheckHandler:
    """The Check method: a thin adapter from CheckRequest to the gate, counting outcomes."""

    def __init__(
        self, gate: Gate, loop: asyncio.AbstractEventLoop, decisions: Decisions | None = None
    ) -> None:
        self._gate = gate
        self._loop = loop
        self.decisions = decisions or Decisions()
        self._render = self.decisions.counting(render_grpc)

    def __call__(self, request: Any, context: grpc.ServicerContext) -> bytes:
        attributes = request.attributes
        try:
            route = RouteContext.of(attributes.context_extensions)
            headers = _request_headers(attributes.request.http)
            decided = self._gate.who(headers, route)
            if isinstance(decided, Denial):
                self.decisions.deny(decided.slug)
                return decided.grpc
            assert route is not None
            answer = self._gate.count(decided, route, self._render, presented_key_id(headers))
            if isinstance(answer, bytes):
                return answer  # memory decided: a lease, a remembered refusal, no limits
            # Redis must be asked: that waits on the sidecar's event loop.
            future = asyncio.run_coroutine_threadsafe(_awaited(answer), self._loop)
            return future.result(COUNT_TIMEOUT_SECONDS)
        except Exception as error:  # the gate is total; this is a bug, never a key leak
            self.decisions.failed += 1
            log.exception("Check failed: %s", type(error).__name__)
            context.abort(grpc.StatusCode.INTERNAL, "internal error")


@dataclass(frozen=True, slots=True)
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer

    def stop(self, grace: float) -> None:
        """Report NOT_SERVING first, then let in-flight Checks finish within `grace`."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def start_server(
    store: Store,
    gate: Gate,
    loop: asyncio.AbstractEventLoop,
    *,
    address: str,
    port: int,
    workers: int,
    decisions: Decisions | None = None,
) -> RunningServer:
    """Start Check and health on address:port (0 = a free port); health turns SERVING
    when the store publishes its first snapshot. Counting runs on `loop`; outcomes are
    counted in `decisions`."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check"),
        options=[("grpc.so_reuseport", 0)],
    )
    check = grpc.unary_unary_rpc_method_handler(
        CheckHandler(gate, loop, decisions),
        request_deserializer=external_auth_pb2.CheckRequest.FromString,
        response_serializer=_identity,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE_NAME, {"Check": check}),)
    )
    health_servicer = health.HealthServicer()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, _NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    def on_snapshot(_: Snapshot) -> None:
        for name in ("", SERVICE_NAME):
            health_servicer.set(name, _SERVING)

    bound = server.add_insecure_port(f"{address}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {address}:{port}")
    server.start()
    store.subscribe(on_snapshot)
    log.info("ext_authz listening on %s:%d", address, bound)
    return RunningServer(server, bound, health_servicer)
