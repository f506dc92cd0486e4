"""The sidecar's settings: one frozen object, read once from the environment."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from extauthz.errors import ConfigurationError
from xds_server.sidecar_client import NODE_ENV, read_token


@dataclass(frozen=True, slots=True)
class Settings:
    # Interface every service listens on (loopback: Envoy runs beside us).
    address: str = "127.0.0.1"
    # Port of gRPC Authorization/Check and health; 0 picks a free port (tests).
    port: int = 18001
    # Port of Envoy's HTTP ext_authz mode (what the compiled gateway calls by default).
    http_port: int = 18004
    # host:port of xds_server: credentials, applications and limits are streamed from there.
    xds_target: str = "127.0.0.1:18000"
    # The xDS credential's name (`python -m xds_server.credentials add NAME --role sidecar`);
    # the node id is `NAME/extauthz-<host>-<pid>`. Required.
    xds_node: str = ""
    # That credential's token: TOLLGATE_XDS_TOKEN_FILE (preferred) or TOLLGATE_XDS_TOKEN.
    # Required; kept out of repr so it is never logged.
    xds_token: str = field(default="", repr=False)
    # Threads answering gRPC Checks; 4 measured better than 16 (fewer hand-offs).
    workers: int = 4
    # Where the counters live (shared by every sidecar of the gateway).
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Per Redis call. Timeouts open the breaker only several in a row (a busy machine is
    # not an outage); below Envoy's ext_authz timeout (250 ms) so the answer still arrives.
    redis_timeout_ms: int = 100
    # How many sidecars share the limits: while Redis is unreachable each one enforces
    # 1/sidecars of every window on fail-open routes.
    sidecars: int = 1
    # Prometheus /metrics; 0 turns it off.
    metrics_port: int = 18005

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            address=env.get("TOLLGATE_EXTAUTHZ_ADDRESS", defaults.address),
            port=_int(env, "TOLLGATE_EXTAUTHZ_PORT", defaults.port, minimum=0, maximum=65535),
            http_port=_int(
                env, "TOLLGATE_EXTAUTHZ_HTTP_PORT", defaults.http_port, minimum=0, maximum=65535
            ),
            xds_target=env.get("TOLLGATE_XDS_TARGET", defaults.xds_target),
            xds_node=env.get(NODE_ENV, defaults.xds_node),
            xds_token=_token(env),
            workers=_int(env, "TOLLGATE_EXTAUTHZ_WORKERS", defaults.workers, minimum=1),
            redis_url=env.get("TOLLGATE_REDIS_URL", defaults.redis_url),
            redis_timeout_ms=_int(
                env, "TOLLGATE_EXTAUTHZ_REDIS_TIMEOUT_MS", defaults.redis_timeout_ms, minimum=1
            ),
            sidecars=_int(env, "TOLLGATE_GATEWAY_SIDECARS", defaults.sidecars, minimum=1),
            metrics_port=_int(
                env,
                "TOLLGATE_EXTAUTHZ_METRICS_PORT",
                defaults.metrics_port,
                minimum=0,
                maximum=65535,
            ),
        )


def _token(env: Mapping[str, str]) -> str:
    try:
        return read_token(env)
    except OSError as exc:
        raise ConfigurationError(f"cannot read the xDS token file: {exc}") from None


def _int(
    env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigurationError(f"{name} must be {bounds}, got {value}")
    return value
