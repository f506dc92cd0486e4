"""`python -m extauthz`: the one-decision sidecar, on both of Envoy's ext_authz protocols
(HTTP on uvloop, gRPC on a thread pool), until SIGTERM or SIGINT."""

import asyncio
import logging
import signal
from typing import Final

import redis
from prometheus_client import start_http_server

from extauthz.degraded import DegradedWatch, counters_gauges, watch_counters
from extauthz.gate import WANTED_HEADERS, Gate
from extauthz.http_server import new_event_loop, serve_http
from extauthz.meter import Meter
from extauthz.server import start_server
from extauthz.settings import Settings
from extauthz.store import Store
from extauthz.xds_client import XdsClient
from ratelimit_svc.async_redis_store import AsyncCounterStore
from ratelimit_svc.local_limits import LocalLimits
from ratelimit_svc.metrics import RateLimitMetrics
from ratelimit_svc.subscription_rules import SubscriptionRules
from ratelimit_svc.throttle_events import ThrottleRecorder

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
    http = await serve_http(
        gate.http, host=settings.address, port=settings.http_port, wanted=WANTED_HEADERS
    )
    grpc_server = start_server(
        store,
        gate,
        loop,
        address=settings.address,
        port=settings.port,
        workers=settings.workers,
    )
    if settings.metrics_port:
        start_http_server(settings.metrics_port, settings.address, registry=metrics.registry)
    client = XdsClient(store, settings.xds_target, rules=rules)
    client.start()
    throttles.start()
    sweeper = loop.create_task(meter.sweep())
    counters_gauges(metrics.registry, lambda: counters.down_since)
    watcher = loop.create_task(
        watch_counters(
            DegradedWatch(),
            lambda: counters.down_since,
            lambda: (meter.local_counts[0], meter.local_counts[1]),
            report=None,
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
    # Leases held now would be refused to the other sidecars until they expire.
    await counters.release(meter.book.forget(set()))
    await counters.close()
    client.stop()
    throttles.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve(settings))


if __name__ == "__main__":
    main()
