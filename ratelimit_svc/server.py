"""The gRPC server: ShouldRateLimit plus health, on a sync thread pool (as ext_authz)."""

import logging
from concurrent import futures
from dataclasses import dataclass
from typing import Final

import grpc
from envoy.service.ratelimit.v3 import rls_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ratelimit_svc.service import ShouldRateLimitHandler

log = logging.getLogger(__name__)

SERVICE_NAME: Final = "envoy.service.ratelimit.v3.RateLimitService"
_NAMES: Final = ("", SERVICE_NAME)


def _identity(response: bytes) -> bytes:
    return response


@dataclass(frozen=True, slots=True)
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer

    def serving(self) -> None:
        for name in _NAMES:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def start_server(
    handler: ShouldRateLimitHandler, *, address: str, port: int, workers: int
) -> RunningServer:
    """Start on address:port (0 = a free port), NOT_SERVING until `serving()` is called."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ratelimit"),
        options=[("grpc.so_reuseport", 0)],
    )
    method = grpc.unary_unary_rpc_method_handler(
        handler,
        request_deserializer=rls_pb2.RateLimitRequest.FromString,
        response_serializer=_identity,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE_NAME, {"ShouldRateLimit": method}),)
    )
    health_servicer = health.HealthServicer()
    for name in _NAMES:
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{address}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {address}:{port}")
    server.start()
    log.info("ratelimit_svc listening on %s:%d", address, bound)
    return RunningServer(server, bound, health_servicer)
