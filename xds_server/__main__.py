"""`python -m xds_server [--snapshot-file F]`: the ADS server, its snapshot source and reporter.

Without `--snapshot-file` it polls mgmt and reports ACK/NACK events back; with it, it serves
that file (re-read when it changes) and only logs events. Either way only the nodes in the
credentials file (TOLLGATE_XDS_CREDENTIALS) are served; it does not start without one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server

from xds_server import credentials as creds
from xds_server.auth import CredentialStore
from xds_server.cache import SnapshotCache, XdsEvent
from xds_server.errors import CredentialsError
from xds_server.metrics import XdsCollector, XdsMetrics
from xds_server.node_reports import Forward, logged_only, mgmt_forwarder
from xds_server.reporter import EventReporter, post
from xds_server.sealing import SealingError, read_sealing_key
from xds_server.server import StreamLimits, create_server, set_health
from xds_server.settings import Settings
from xds_server.source import FileSnapshotSource, MgmtSnapshotSource

log = logging.getLogger("xds_server")


def _serve_metrics(settings: Settings, collector: XdsCollector) -> None:
    """Prometheus /metrics on its own thread; each scrape reads the live state. A port
    already taken costs the metrics only: Envoys keep being served."""
    registry = CollectorRegistry()
    registry.register(collector)
    address, port = settings.address, settings.metrics_port
    try:
        start_http_server(port, address, registry=registry)
    except OSError as exc:
        log.error("no metrics: cannot listen on %s:%d: %s", address, port, exc)
        return
    log.info("metrics on http://%s:%d/metrics", address, port)


async def serve(settings: Settings, snapshot_file: Path | None) -> None:
    if settings.credentials_file is None:
        raise CredentialsError(
            "TOLLGATE_XDS_CREDENTIALS is not set: give the nodes' credentials file "
            "(python -m xds_server.credentials add NAME --role envoy|sidecar --file F)"
        )
    credentials_file = settings.credentials_file
    credentials = CredentialStore(credentials_file)
    credentials.load()
    reporter: EventReporter | None = None
    if snapshot_file is None:
        reporter = EventReporter(mgmt_url=settings.mgmt_url, token=settings.internal_token)

    metrics = XdsMetrics()

    def on_event(event: XdsEvent) -> None:
        metrics.on_event(event)
        if reporter is not None:
            reporter.submit(event)

    cache = SnapshotCache(on_event=on_event)
    sealing_key = read_sealing_key(settings.secrets_key_file)
    tasks: list[asyncio.Task[None]] = []
    if snapshot_file is not None:
        file_source = FileSnapshotSource(
            cache, snapshot_file, poll_interval=settings.poll_interval, sealing_key=sealing_key
        )
        file_source.load()
        tasks.append(asyncio.create_task(file_source.run()))
    else:
        source = MgmtSnapshotSource(
            cache,
            mgmt_url=settings.mgmt_url,
            token=settings.internal_token,
            state_dir=settings.state_dir,
            poll_interval=settings.poll_interval,
            long_poll=settings.long_poll,
            sealing_key=sealing_key,
        )
        source.load_state()
        tasks.append(asyncio.create_task(source.run()))
    if reporter is not None:
        tasks.append(asyncio.create_task(reporter.run()))
    tasks.append(asyncio.create_task(credentials.run(settings.poll_interval)))

    limits = StreamLimits(
        max_message_bytes=settings.max_message_bytes,
        max_resource_names=settings.max_resource_names,
        max_streams_per_credential=settings.max_streams_per_credential,
    )
    forward: Forward = logged_only
    if snapshot_file is None:
        forward = mgmt_forwarder(post, mgmt_url=settings.mgmt_url, token=settings.internal_token)
    server, port, health_servicer = create_server(
        cache,
        address=settings.address,
        port=settings.port,
        credentials=credentials,
        limits=limits,
        forward_conditions=forward,
        metrics=metrics,
    )
    await server.start()
    await set_health(health_servicer, serving=True)
    log.info("ADS listening on %s:%d", settings.address, port)
    if settings.metrics_port:
        _serve_metrics(settings, XdsCollector(metrics, cache, lambda: creds.load(credentials_file)))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("stopping: %.1fs grace for open streams", settings.shutdown_grace)
    await set_health(health_servicer, serving=False)
    await server.stop(settings.shutdown_grace)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if reporter is not None and reporter.pending:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reporter.flush(), timeout=2.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m xds_server", description=__doc__)
    parser.add_argument(
        "--snapshot-file",
        type=Path,
        help="serve this serialized tollgate.v1.Snapshot instead of polling mgmt",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(Settings.from_env(), args.snapshot_file))
    except (CredentialsError, SealingError) as exc:
        log.error("%s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
