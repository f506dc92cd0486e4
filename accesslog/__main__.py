"""`python -m accesslog`: Envoy's access-log collector, counting requests per minute in Redis.

Only Envoys whose xDS token is in the credentials file (TOLLGATE_XDS_CREDENTIALS) are
heard. On SIGTERM or SIGINT it stops taking streams, writes what it counted, and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from prometheus_client import start_http_server

from accesslog.collector import Collector
from accesslog.errors import ConfigurationError
from accesslog.metrics import CollectorMetrics
from accesslog.server import StreamLimits, create_server, set_health
from accesslog.settings import Settings
from accesslog.sink import RedisSink, client
from xds_server.auth import CredentialStore
from xds_server.errors import CredentialsError

# Seconds the last flush may take at shutdown before what is left is given up.
FINAL_FLUSH_TIMEOUT = 10.0

log = logging.getLogger("accesslog")


async def serve(settings: Settings) -> None:
    assert settings.credentials_file is not None  # Settings.from_env requires it
    credentials = CredentialStore(settings.credentials_file)
    credentials.load()
    metrics = CollectorMetrics()
    redis = client(settings.redis_url, settings.redis_timeout_ms / 1000)
    collector = Collector(RedisSink(redis), metrics, max_pending_dims=settings.max_pending_dims)
    await collector.start()
    server, port, health = create_server(
        collector,
        address=settings.address,
        port=settings.port,
        credentials=credentials,
        metrics=metrics,
        limits=StreamLimits(
            max_message_bytes=settings.max_message_bytes,
            max_streams_per_credential=settings.max_streams_per_credential,
        ),
    )
    await server.start()
    await set_health(health, serving=True)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, settings.address, registry=metrics.registry)
    tasks = [
        asyncio.create_task(collector.run(settings.flush_interval)),
        asyncio.create_task(credentials.run(settings.flush_interval)),
    ]
    log.info(
        "access-log collector listening on %s:%d (metrics port %s), writing to Redis every %.1fs",
        settings.address,
        port,
        settings.metrics_port or "off",
        settings.flush_interval,
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("stopping: %.1fs for open streams, then a last flush", settings.shutdown_grace)
    await set_health(health, serving=False)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Streams end here (Envoy reconnects to another collector, or to us after a restart);
    # everything they delivered is already in the collector.
    await server.stop(settings.shutdown_grace)
    try:
        written = await asyncio.wait_for(collector.flush(final=True), FINAL_FLUSH_TIMEOUT)
    except TimeoutError:
        written = False
    if not written:
        log.error(
            "Redis did not take the last flush: %d (minute, dims) cells lost", collector.abandon()
        )
    await redis.aclose()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(Settings.from_env()))
    except (ConfigurationError, CredentialsError) as exc:
        log.error("%s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
