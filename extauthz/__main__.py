"""`python -m extauthz`: the one-decision sidecar, on both of Envoy's ext_authz protocols
(HTTP on uvloop, gRPC on a thread pool), until SIGTERM or SIGINT."""

import asyncio
import logging
import signal
import sys
from typing import Final

import redis
from prometheus_client import start_http_server

from extauthz.degraded import Condition, DegradedWatch, counters_gauges, watch_counters
from extauthz.errors import ConfigurationError
from extauthz.gate import WANTED_HEADERS, Gate
from extauthz.http_server import new_event_loop, serve_http
from extauthz.meter import Meter
from extauthz.metrics import GRPC, HTTP, DecisionCollector, Decisions, counted_http
from extauthz.server import start_server
from extauthz.settings import Settings
from extauthz.store import Store
from extauthz.xds_client import XdsClient
from ratelimit_svc.async_redis_store import AsyncCounterStore
from ratelimit_svc.local_limits import LocalLimits
from ratelimit_svc.metrics import RateLimitMetrics
from ratelimit_svc.subscription_rules import SubscriptionRules
from ratelimit_svc.throttle_events import ThrottleRecorder
from xds_server.report_client import ConditionReporter
from xds_server.sidecar_client import default_node_id

# Envoy's ext_authz timeout is far shorter; this only lets in-flight Checks finish.
GRACE_SECONDS: Final = 2.0
log = logging.getLogger("extauthz")


def _stream_publisher(url: str) -> ThrottleRecorder:
    """Throttle events go out from their own thread, on a client of their own."""
    client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def publish(stream: str, fields: dict[str, str], max_length: int) -> None:
        client.xadd(stream, fields, maxlen=max_length, approximate=True)  # type: ignore[arg-type]

    return ThrottleRecorder(publish)


async def serve(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    store = Store()
    rules = SubscriptionRules()
    counters = AsyncCounterStore(settings.redis_url, timeout=settings.redis_timeout_ms / 1000)
    metrics = RateLimitMetrics()
    throttles = _stream_publisher(settings.redis_url)
    meter = Meter(
        rules,
        counters,
        local=LocalLimits(settings.sidecars),
        metrics=metrics,
        throttles=throttles,
    )
    meter.bind(loop)
    gate = Gate(store, meter)
    decisions = {HTTP: Decisions(), GRPC: Decisions()}
    metrics.registry.register(DecisionCollector(decisions))
    http = await serve_http(
        counted_http(gate, decisions[HTTP]),
        host=settings.address,
        port=settings.http_port,
        wanted=WANTED_HEADERS,
        on_failure=decisions[HTTP].fail,
    )
    grpc_server = start_server(
        store,
        gate,
        loop,
        address=settings.address,
        port=settings.port,
        workers=settings.workers,
        decisions=decisions[GRPC],
    )
    if settings.metrics_port:
        start_http_server(settings.metrics_port, settings.address, registry=metrics.registry)
    node_id = default_node_id(settings.xds_node, "extauthz")
    client = XdsClient(
        store,
        settings.xds_target,
        node_id=node_id,
        token=settings.xds_token,
        rules=rules,
    )
    client.start()
    throttles.start()
    sweeper = loop.create_task(meter.sweep())
    counters_gauges(metrics.registry, lambda: counters.down_since)
    # Counting degraded is reported to the control plane (admin's banner), as this node.
    conditions = ConditionReporter(settings.xds_target, token=settings.xds_token, node_id=node_id)

    async def report(condition: Condition) -> None:
        await conditions.report(
            name=condition.name,
            active=condition.active,
            since=condition.since,
            detail=condition.detail,
        )

    watcher = loop.create_task(
        watch_counters(
            DegradedWatch(),
            lambda: counters.down_since,
            lambda: (meter.local_counts[0], meter.local_counts[1]),
            report,
        )
    )
    log.info(
        "ext_authz: HTTP on %s:%d, gRPC on %s:%d",
        settings.address,
        settings.http_port,
        settings.address,
        grpc_server.port,
    )

    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("stopping")
    http.close()
    await loop.run_in_executor(None, grpc_server.stop, GRACE_SECONDS)
    sweeper.cancel()
    watcher.cancel()
    await conditions.close()
    # Leases held now would be refused to the other sidecars until they expire.
    await counters.release(meter.book.forget(set()))
    await counters.close()
    client.stop()
    throttles.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        sys.exit(f"extauthz: {exc}")
    if not settings.xds_node or not settings.xds_token:
        sys.exit(
            "extauthz: set TOLLGATE_XDS_NODE and TOLLGATE_XDS_TOKEN_FILE (or TOLLGATE_XDS_TOKEN): "
            "a sidecar credential from python -m xds_server.credentials add NAME --role sidecar"
        )
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve(settings))


if __name__ == "__main__":
    main()
