"""ratelimit_svc's settings: command-line flags, each defaulting to an environment variable."""

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ratelimit_svc.limits import Algorithm
from xds_server.sidecar_client import NODE_ENV, read_token


@dataclass(frozen=True, slots=True)
class Settings:
    address: str = "127.0.0.1"
    port: int = 18002
    # host:port of xds_server for mgmt's limits; "" runs standalone on the YAML config.
    xds_target: str = "127.0.0.1:18000"
    # The sidecar xDS credential's name (node id `NAME/ratelimit-<host>-<pid>`) and its token
    # (TOLLGATE_XDS_TOKEN_FILE or TOLLGATE_XDS_TOKEN, never a flag: argv is public).
    xds_node: str = ""
    xds_token: str = field(default="", repr=False)
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Per Redis call; a dead Redis then costs one call this long, then nothing (breaker).
    redis_timeout_ms: int = 25
    config_paths: tuple[Path, ...] = ()
    algorithm: Algorithm = Algorithm.SLIDING
    # Prometheus /metrics; 0 turns it off.
    metrics_port: int = 18003
    workers: int = 16


def parse(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    d = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m ratelimit_svc",
        description="Envoy's RateLimitService: mgmt's limits over xDS and/or a drop-in "
        "envoyproxy/ratelimit-style YAML configuration, counted in Redis.",
    )
    parser.add_argument("--address", default=env.get("TOLLGATE_RATELIMIT_ADDRESS", d.address))
    parser.add_argument(
        "--port", type=_port, default=env.get("TOLLGATE_RATELIMIT_PORT", str(d.port))
    )
    parser.add_argument(
        "--xds-target",
        default=env.get("TOLLGATE_XDS_TARGET", d.xds_target),
        help="xds_server host:port; '' to run standalone on --config only",
    )
    parser.add_argument(
        "--xds-node",
        default=env.get(NODE_ENV, d.xds_node),
        help="the name of the sidecar xDS credential (its token: TOLLGATE_XDS_TOKEN_FILE)",
    )
    parser.add_argument("--redis-url", default=env.get("TOLLGATE_REDIS_URL", d.redis_url))
    parser.add_argument(
        "--redis-timeout-ms",
        type=_positive,
        default=env.get("TOLLGATE_RATELIMIT_REDIS_TIMEOUT_MS", str(d.redis_timeout_ms)),
    )
    parser.add_argument(
        "--config",
        action="append",
        type=Path,
        default=None,
        help="envoyproxy/ratelimit-style YAML file or directory (repeatable)",
    )
    parser.add_argument(
        "--algorithm",
        choices=[a.value for a in Algorithm],
        default=env.get("TOLLGATE_RATELIMIT_ALGORITHM", d.algorithm.value),
        help="default algorithm of YAML limits",
    )
    parser.add_argument(
        "--metrics-port",
        type=_port,
        default=env.get("TOLLGATE_RATELIMIT_METRICS_PORT", str(d.metrics_port)),
    )
    parser.add_argument(
        "--workers", type=_positive, default=env.get("TOLLGATE_RATELIMIT_WORKERS", str(d.workers))
    )
    args = parser.parse_args(argv)
    try:
        token = read_token(env) if args.xds_target else ""
    except OSError as exc:
        parser.error(f"cannot read the xDS token file: {exc}")
    config = args.config
    if config is None:
        raw = env.get("TOLLGATE_RATELIMIT_CONFIG", "")
        config = [Path(p) for p in raw.split(os.pathsep) if p]
    return Settings(
        address=args.address,
        port=_port(args.port),
        xds_target=args.xds_target,
        xds_node=args.xds_node,
        xds_token=token,
        redis_url=args.redis_url,
        redis_timeout_ms=_positive(args.redis_timeout_ms),
        config_paths=tuple(config),
        algorithm=Algorithm(args.algorithm),
        metrics_port=_port(args.metrics_port),
        workers=_positive(args.workers),
    )


def _port(raw: str | int) -> int:
    value = _int(raw)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


def _positive(raw: str | int) -> int:
    value = _int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _int(raw: str | int) -> int:
    try:
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {raw!r}") from None
