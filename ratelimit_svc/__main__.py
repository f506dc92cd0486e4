"""`python -m ratelimit_svc`: run the rate-limit service until SIGTERM or SIGINT.

With an xds_server target it enforces mgmt's per-subscription limits (domain
`tollgate`); with `--config` it also (or only, given `--xds-target ''`) enforces an
envoyproxy/ratelimit-style YAML configuration. It starts and stays up with Redis down:
each check then fails fast and Envoy applies the route's failure mode.
"""

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Final

from prometheus_client import start_http_server

from ratelimit_svc.metrics import RateLimitMetrics
from ratelimit_svc.redis_store import RedisCounterStore
from ratelimit_svc.server import start_server
from ratelimit_svc.service import RuleResolver, ShouldRateLimitHandler
from ratelimit_svc.settings import parse
from ratelimit_svc.subscription_rules import RulesRefused, SubscriptionRules
from ratelimit_svc.throttle_events import ThrottleRecorder
from ratelimit_svc.yaml_config import ConfigError, YamlConfig, load_config
from xds_server.sidecar_client import SidecarXdsClient, default_node_id
from xds_server.type_urls import RATE_LIMIT_SHARD

GRACE_SECONDS: Final = 2.0
log = logging.getLogger("ratelimit_svc")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = parse(argv)
    yaml_config: YamlConfig | None = None
    if settings.config_paths:
        try:
            yaml_config = load_config(settings.config_paths, default_algorithm=settings.algorithm)
        except (ConfigError, OSError) as error:
            print(f"ratelimit_svc: {error}", file=sys.stderr)
            return 2
    if not settings.xds_target and yaml_config is None:
        print("ratelimit_svc: give an --xds-target, a --config, or both", file=sys.stderr)
        return 2
    if settings.xds_target and not (settings.xds_node and settings.xds_token):
        print(
            "ratelimit_svc: with an --xds-target, set TOLLGATE_XDS_NODE and "
            "TOLLGATE_XDS_TOKEN_FILE (or TOLLGATE_XDS_TOKEN): a sidecar credential from "
            "python -m xds_server.credentials add NAME --role sidecar",
            file=sys.stderr,
        )
        return 2

    store = RedisCounterStore(settings.redis_url, timeout=settings.redis_timeout_ms / 1000)
    metrics = RateLimitMetrics()
    throttles = ThrottleRecorder(store.publish)
    subscriptions = SubscriptionRules() if settings.xds_target else None
    handler = ShouldRateLimitHandler(
        RuleResolver(subscriptions, yaml_config), store, metrics, throttles
    )
    running = start_server(
        handler, address=settings.address, port=settings.port, workers=settings.workers
    )
    if settings.metrics_port:
        start_http_server(settings.metrics_port, settings.address, registry=metrics.registry)
    throttles.start()
    client = None
    if subscriptions is not None:
        subscriptions.subscribe(running.serving)
        client = SidecarXdsClient(
            {RATE_LIMIT_SHARD: subscriptions.replace_shards},
            settings.xds_target,
            node_id=default_node_id(settings.xds_node, "ratelimit"),
            token=settings.xds_token,
            refusals=(RulesRefused,),
        )
        client.start()
    else:
        running.serving()

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    running.stop(GRACE_SECONDS)
    if client is not None:
        client.stop()
    throttles.stop()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
